// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the C API, the counterpart of rust_bench.rs.
 *
 * A PCI driver for QEMU's edu device (1234:11e8). Its probe times each
 * operation below with the same loops and the same iteration counts as
 * rust_bench.rs does through the Rust bindings: one warm-up repetition, then
 * REPS repetitions of n iterations between two ktime_get_ns() calls. For every
 * operation it prints one line
 *
 *   BENCH c <operation> n=<n> reps=<reps> median=<ns> min=<ns> max=<ns> ns/op
 *
 * and at the end "BENCH-DONE c" (or "BENCH-FAILED c: <error>"). No DMA is
 * started: the device only provides a bound struct device, a BAR and an MSI
 * vector, whose interrupt the benchmark raises through edu's raise register.
 */

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/interrupt.h>
#include <linux/io-pgtable.h>
#include <linux/iommu.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#define DRV_NAME "c_bench"

/* Timed repetitions per operation (after one warm-up repetition). */
#define REPS 7

/* Iterations per repetition; rust_bench.rs uses the same numbers. */
#define N_COHERENT_ALLOC 64
#define N_ELEMENT BIT(23)
#define N_POOL BIT(14)
#define N_STREAMING 64
#define N_STREAMING_LIVE 16
#define N_DEVRES BIT(20)
#define N_PGTABLE_MAP 256
#define N_PGTABLE_IOVA BIT(17)
#define N_MMIO BIT(16)
#define N_IRQ BIT(12)
#define N_WORK BIT(12)
#define N_SYNCHRONIZE_RCU 4

/* The coherent buffer of the element accesses: 4 KiB of u32. */
#define ELEMENTS (SZ_4K / sizeof(u32))
/* The coherent ring of the projection benchmarks: 4 KiB of descriptors. */
#define DESCS (SZ_4K / sizeof(struct c_bench_desc))
/* The live-mappings benchmark: mappings held at once, and their size. */
#define STREAMING_LIVE 1000
#define STREAMING_LIVE_SIZE 64
#define SG_PAGES 64
#define N_SG 16
/* The page-table benchmark: pages per iteration, where and to what. */
#define PGTABLE_PAGES 1000
#define PGTABLE_IOVA 0x1000000000UL
#define PGTABLE_PADDR 0x40000000ULL

/* edu's interrupt registers: status (read), raise and acknowledge (written). */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
/*
 * How often the interrupt benchmark polls its counter for one interrupt before
 * it gives up; rust_bench.rs uses the same number.
 */
#define SPIN_LIMIT BIT(22)
/* How long the work benchmark waits for one run before it gives up. */
#define WAIT_MS 1000

/* Results of the timed loops end up here, so that no loop is optimised away. */
static u64 c_bench_sink;

struct c_bench {
	struct pci_dev *pdev;
	struct device *dev;
	void __iomem *bar;
	/* Interrupts the handler has acknowledged. */
	atomic_t irqs;
	/* The work item of the work benchmark and the completion it signals. */
	struct work_struct work;
	struct completion work_done;
};

/* A descriptor of a ring, as the Rust side's Desc. */
struct c_bench_desc {
	u64 addr;
	u32 len;
	u32 flags;
};

/* The buffers of the live-mappings benchmark and their device addresses. */
struct c_bench_live {
	void *buf[STREAMING_LIVE];
	dma_addr_t addr[STREAMING_LIVE];
};

/* The value the plain-read benchmark reads, as the Rust side's Resource. */
struct c_bench_res {
	u32 value;
};

/*
 * Returns res through an empty volatile assembly statement, as rust_bench.rs's
 * hide() does, so that the compiler can not hoist a loop body that uses it out
 * of the loop.
 */
static __always_inline const struct c_bench_res *
hide(const struct c_bench_res *res)
{
	asm volatile("" : "+r"(res));
	return res;
}

/*
 * The C counterpart of bench_devres_access(): C has no revocation. Global, as
 * the Rust function is, so that both begin with the same endbr64 (hence the
 * declarations in this file).
 */
u32 c_bench_plain_read(const struct c_bench_res *res);
noinline u32 c_bench_plain_read(const struct c_bench_res *res)
{
	return res->value;
}

/* The C counterpart of bench_devres_try_access(): a read under RCU. */
u32 c_bench_rcu_read(const struct c_bench_res *res);
noinline u32 c_bench_rcu_read(const struct c_bench_res *res)
{
	u32 value;

	rcu_read_lock();
	value = READ_ONCE(res->value);
	rcu_read_unlock();
	return value;
}

typedef int (*bench_fn)(struct c_bench *b, u64 n, u64 *ns, void *arg);

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Runs fn (which times n iterations and stores the nanoseconds they took) once
 * to warm up and REPS times more, and prints the median, minimum and maximum
 * time per iteration.
 */
static int measure(struct c_bench *b, const char *name, u64 n, bench_fn fn,
		   void *arg)
{
	u64 ns[REPS], med, min, max, warm;
	int i, ret;

	ret = fn(b, n, &warm, arg);
	if (ret)
		return ret;
	for (i = 0; i < REPS; i++) {
		ret = fn(b, n, &ns[i], arg);
		if (ret)
			return ret;
	}
	sort(ns, REPS, sizeof(ns[0]), cmp_u64, NULL);
	/* Picoseconds per iteration, printed as nanoseconds with three decimals. */
	med = div64_u64(ns[REPS / 2] * 1000, n);
	min = div64_u64(ns[0] * 1000, n);
	max = div64_u64(ns[REPS - 1] * 1000, n);
	pr_info("BENCH c %s n=%llu reps=%d median=%llu.%03llu min=%llu.%03llu max=%llu.%03llu ns/op\n",
		name, n, REPS, med / 1000, med % 1000, min / 1000, min % 1000,
		max / 1000, max % 1000);
	return 0;
}

/* Allocation and free of *(size_t *)arg bytes of coherent memory. */
static int bench_coherent_alloc(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	size_t size = *(size_t *)arg;
	dma_addr_t handle;
	u64 i, t0;
	void *cpu;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		cpu = dma_alloc_coherent(b->dev, size, &handle, GFP_KERNEL);
		if (!cpu)
			return -ENOMEM;
		dma_free_coherent(b->dev, size, cpu, handle);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/*
 * The same with the managed (devres) variants, which register and remove a
 * devres node as the Rust side's Devres does.
 */
static int bench_coherent_alloc_dmam(struct c_bench *b, u64 n, u64 *ns,
				     void *arg)
{
	size_t size = *(size_t *)arg;
	dma_addr_t handle;
	u64 i, t0;
	void *cpu;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		cpu = dmam_alloc_coherent(b->dev, size, &handle, GFP_KERNEL);
		if (!cpu)
			return -ENOMEM;
		dmam_free_coherent(b->dev, size, cpu, handle);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int bench_coherent_read(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	u32 *cpu = arg, sum = 0;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		sum += READ_ONCE(cpu[i & (ELEMENTS - 1)]);
	*ns = ktime_get_ns() - t0;
	WRITE_ONCE(c_bench_sink, sum);
	return 0;
}

static int bench_coherent_write(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	u32 *cpu = arg;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		WRITE_ONCE(cpu[i & (ELEMENTS - 1)], (u32)i);
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int bench_coherent_elements(struct c_bench *b)
{
	dma_addr_t handle;
	u32 *cpu;
	int ret;

	cpu = dma_alloc_coherent(b->dev, SZ_4K, &handle, GFP_KERNEL);
	if (!cpu)
		return -ENOMEM;
	ret = measure(b, "coherent_read", N_ELEMENT, bench_coherent_read, cpu);
	if (!ret)
		ret = measure(b, "coherent_write", N_ELEMENT,
			      bench_coherent_write, cpu);
	dma_free_coherent(b->dev, SZ_4K, cpu, handle);
	return ret;
}

/*
 * Reads and writes of the len field of the descriptors of a 4 KiB coherent
 * ring, the counterpart of rust_bench.rs's dma_read!() and dma_write!().
 */
static int bench_project_read(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct c_bench_desc *ring = arg;
	u32 sum = 0;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		sum += READ_ONCE(ring[i & (DESCS - 1)].len);
	*ns = ktime_get_ns() - t0;
	WRITE_ONCE(c_bench_sink, sum);
	return 0;
}

static int bench_project_write(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct c_bench_desc *ring = arg;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		WRITE_ONCE(ring[i & (DESCS - 1)].len, (u32)i);
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int bench_projection(struct c_bench *b)
{
	struct c_bench_desc *ring;
	dma_addr_t handle;
	int ret;

	ring = dma_alloc_coherent(b->dev, SZ_4K, &handle, GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	ret = measure(b, "project_read", N_ELEMENT, bench_project_read, ring);
	if (!ret)
		ret = measure(b, "project_write", N_ELEMENT,
			      bench_project_write, ring);
	dma_free_coherent(b->dev, SZ_4K, ring, handle);
	return ret;
}

/* Allocation (zeroed, as the Rust pool's) and free of a 64-byte pool block. */
static int bench_pool_alloc(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct dma_pool *pool = arg;
	dma_addr_t dma;
	u64 i, t0;
	void *blk;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		blk = dma_pool_zalloc(pool, GFP_KERNEL, &dma);
		if (!blk)
			return -ENOMEM;
		dma_pool_free(pool, blk, dma);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/* A pool of 64-byte blocks aligned to 64 bytes, as the Rust side's. */
static int bench_pool(struct c_bench *b)
{
	struct dma_pool *pool;
	int ret;

	pool = dma_pool_create("bench", b->dev, 64, 64, 0);
	if (!pool)
		return -ENOMEM;
	ret = measure(b, "pool_alloc_64", N_POOL, bench_pool_alloc, pool);
	dma_pool_destroy(pool);
	return ret;
}

/* Streaming map, sync for the CPU, sync for the device and unmap of 4 KiB. */
static int bench_streaming(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	dma_addr_t addr;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		addr = dma_map_single(b->dev, arg, SZ_4K, DMA_BIDIRECTIONAL);
		if (dma_mapping_error(b->dev, addr))
			return -ENOMEM;
		dma_sync_single_for_cpu(b->dev, addr, SZ_4K, DMA_BIDIRECTIONAL);
		dma_sync_single_for_device(b->dev, addr, SZ_4K,
					   DMA_BIDIRECTIONAL);
		dma_unmap_single(b->dev, addr, SZ_4K, DMA_BIDIRECTIONAL);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/*
 * STREAMING_LIVE buffers of 64 bytes mapped one after the other and all kept
 * mapped, then each unmapped and freed, as the Rust side drops its mappings.
 * Only the mapping, unmapping and freeing are timed: each round allocates its
 * buffers before its timed part; the time per operation is that of a round.
 */
static int bench_streaming_live(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct c_bench_live *live = arg;
	u64 i, t0, t = 0;
	int j, ret;

	for (i = 0; i < n; i++) {
		for (j = 0; j < STREAMING_LIVE; j++) {
			live->buf[j] = kzalloc(STREAMING_LIVE_SIZE, GFP_KERNEL);
			if (!live->buf[j]) {
				ret = -ENOMEM;
				goto err_free;
			}
		}
		t0 = ktime_get_ns();
		for (j = 0; j < STREAMING_LIVE; j++) {
			live->addr[j] = dma_map_single(b->dev, live->buf[j],
						       STREAMING_LIVE_SIZE,
						       DMA_TO_DEVICE);
			if (dma_mapping_error(b->dev, live->addr[j])) {
				ret = -ENOMEM;
				goto err_unmap;
			}
		}
		for (j = 0; j < STREAMING_LIVE; j++) {
			dma_unmap_single(b->dev, live->addr[j],
					 STREAMING_LIVE_SIZE, DMA_TO_DEVICE);
			kfree(live->buf[j]);
		}
		t += ktime_get_ns() - t0;
	}
	*ns = t;
	return 0;

err_unmap:
	while (j--)
		dma_unmap_single(b->dev, live->addr[j], STREAMING_LIVE_SIZE,
				 DMA_TO_DEVICE);
	j = STREAMING_LIVE;
err_free:
	while (j--)
		kfree(live->buf[j]);
	return ret;
}

/*
 * A scatter-gather table of SG_PAGES separate pages built, mapped to the
 * device and unmapped, as the Rust side's SgMapping does each time.
 */
static int bench_sg(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct page **pages = arg;
	struct scatterlist *sg;
	struct sg_table sgt;
	u64 i, t0;
	int j, ret;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		ret = sg_alloc_table(&sgt, SG_PAGES, GFP_KERNEL);
		if (ret)
			return ret;
		for_each_sgtable_sg(&sgt, sg, j)
			sg_set_page(sg, pages[j], PAGE_SIZE, 0);
		ret = dma_map_sgtable(b->dev, &sgt, DMA_TO_DEVICE, 0);
		if (ret) {
			sg_free_table(&sgt);
			return ret;
		}
		dma_unmap_sgtable(b->dev, &sgt, DMA_TO_DEVICE, 0);
		sg_free_table(&sgt);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int bench_sg_pages(struct c_bench *b)
{
	struct page **pages;
	int i, ret = -ENOMEM;

	pages = kcalloc(SG_PAGES, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < SG_PAGES; i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		if (!pages[i])
			goto out;
	}
	ret = measure(b, "sg_map_unmap_64", N_SG, bench_sg, pages);
out:
	while (i--)
		__free_page(pages[i]);
	kfree(pages);
	return ret;
}

/* A plain pointer read of the value, the C counterpart of the Devres access. */
static int bench_plain_read(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	const struct c_bench_res *res = arg;
	u32 sum = 0;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		sum += c_bench_plain_read(hide(res));
	*ns = ktime_get_ns() - t0;
	WRITE_ONCE(c_bench_sink, sum);
	return 0;
}

/* The same under rcu_read_lock(), as Revocable::try_access() does. */
static int bench_rcu_read(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	const struct c_bench_res *res = arg;
	u32 sum = 0;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		sum += c_bench_rcu_read(hide(res));
	*ns = ktime_get_ns() - t0;
	WRITE_ONCE(c_bench_sink, sum);
	return 0;
}

static void c_bench_tlb_flush_all(void *cookie)
{
}

static void c_bench_tlb_flush_walk(unsigned long iova, size_t size,
				   size_t granule, void *cookie)
{
}

static void c_bench_tlb_add_page(struct iommu_iotlb_gather *gather,
				 unsigned long iova, size_t granule,
				 void *cookie)
{
}

static const struct iommu_flush_ops c_bench_flush_ops = {
	.tlb_flush_all = c_bench_tlb_flush_all,
	.tlb_flush_walk = c_bench_tlb_flush_walk,
	.tlb_add_page = c_bench_tlb_add_page,
};

/*
 * Maps PGTABLE_PAGES pages of 4 KiB from PGTABLE_IOVA, calling map_pages until
 * all are mapped (one call maps at most up to the end of a leaf table).
 */
static int pgtable_map(struct io_pgtable_ops *ops)
{
	size_t len = PGTABLE_PAGES * SZ_4K, done = 0, mapped;
	int ret;

	while (done < len) {
		mapped = 0;
		ret = ops->map_pages(ops, PGTABLE_IOVA + done,
				     PGTABLE_PADDR + done, SZ_4K,
				     (len - done) / SZ_4K,
				     IOMMU_READ | IOMMU_WRITE, GFP_KERNEL,
				     &mapped);
		if (ret)
			return ret;
		if (!mapped)
			return -EIO;
		done += mapped;
	}
	return 0;
}

/* Unmaps what pgtable_map() mapped, calling unmap_pages until all is unmapped. */
static int pgtable_unmap(struct io_pgtable_ops *ops)
{
	size_t len = PGTABLE_PAGES * SZ_4K, done = 0, unmapped;
	struct iommu_iotlb_gather gather;

	while (done < len) {
		iommu_iotlb_gather_init(&gather);
		unmapped = ops->unmap_pages(ops, PGTABLE_IOVA + done, SZ_4K,
					    (len - done) / SZ_4K, &gather);
		if (!unmapped)
			return -ENOENT;
		done += unmapped;
	}
	return 0;
}

static int bench_pgtable_map(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct io_pgtable_ops *ops = arg;
	u64 i, t0;
	int ret;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		ret = pgtable_map(ops);
		if (ret)
			return ret;
		ret = pgtable_unmap(ops);
		if (ret)
			return ret;
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int bench_pgtable_iova(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	struct io_pgtable_ops *ops = arg;
	phys_addr_t sum = 0;
	unsigned long iova;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		iova = PGTABLE_IOVA + (i & 511) * SZ_4K + 0x123;
		sum += ops->iova_to_phys(ops, iova);
	}
	*ns = ktime_get_ns() - t0;
	WRITE_ONCE(c_bench_sink, sum);
	return 0;
}

/* ARM LPAE stage 1 (4 KiB granule, 48-bit addresses). */
static int bench_pgtable(struct c_bench *b)
{
	struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G,
		.ias = 48,
		.oas = 48,
		.coherent_walk = true,
		.tlb = &c_bench_flush_ops,
		.iommu_dev = b->dev,
	};
	struct io_pgtable_ops *ops;
	int ret, ret2;

	ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, b);
	if (!ops)
		return -EINVAL;
	ret = measure(b, "pgtable_map_unmap_1000", N_PGTABLE_MAP,
		      bench_pgtable_map, ops);
	if (ret)
		goto out;
	ret = pgtable_map(ops);
	if (ret)
		goto out;
	ret = measure(b, "pgtable_iova_to_phys", N_PGTABLE_IOVA,
		      bench_pgtable_iova, ops);
	ret2 = pgtable_unmap(ops);
	if (!ret)
		ret = ret2;
out:
	free_io_pgtable_ops(ops);
	return ret;
}

static int bench_mmio(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	u32 sum = 0;
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		sum += readl(b->bar);
	*ns = ktime_get_ns() - t0;
	WRITE_ONCE(c_bench_sink, sum);
	return 0;
}

/*
 * The interrupt handler: reads edu's status, acknowledges it and counts the
 * interrupt, as rust_bench.rs's handler does.
 */
static irqreturn_t c_bench_irq(int irq, void *data)
{
	struct c_bench *b = data;
	u32 status;

	status = readl(b->bar + EDU_IRQ_STATUS);
	if (!status)
		return IRQ_NONE;
	writel(status, b->bar + EDU_IRQ_ACK);
	atomic_inc(&b->irqs);
	return IRQ_HANDLED;
}

/*
 * Interrupt round trips: raise edu's interrupt through the BAR and poll until
 * the handler has counted it, at most SPIN_LIMIT times (-ETIMEDOUT then: a lost
 * interrupt).
 */
static int bench_irq_round_trip(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	u32 spins;
	u64 i, t0;
	int seen;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		seen = atomic_read(&b->irqs);
		writel(1, b->bar + EDU_IRQ_RAISE);
		spins = 0;
		while (atomic_read(&b->irqs) == seen) {
			if (spins == SPIN_LIMIT)
				return -ETIMEDOUT;
			cpu_relax();
			spins++;
		}
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/* Requests vector 0 for the handler for the round trips, and frees it. */
static int bench_irq(struct c_bench *b)
{
	int irq, ret;

	irq = pci_irq_vector(b->pdev, 0);
	if (irq < 0)
		return irq;
	atomic_set(&b->irqs, 0);
	ret = request_irq(irq, c_bench_irq, 0, DRV_NAME, b);
	if (ret)
		return ret;
	ret = measure(b, "irq_round_trip", N_IRQ, bench_irq_round_trip, NULL);
	free_irq(irq, b);
	return ret;
}

/*
 * The work function: signals the completion the benchmark waits for, as
 * rust_bench.rs's work function does.
 */
static void c_bench_work_fn(struct work_struct *work)
{
	struct c_bench *b = container_of(work, struct c_bench, work);

	complete(&b->work_done);
}

/*
 * Work queued on the system workqueue and waited for, at most WAIT_MS per run
 * (-ETIMEDOUT then).
 */
static int bench_work_dispatch(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		queue_work(system_wq, &b->work);
		if (!wait_for_completion_timeout(&b->work_done,
						 msecs_to_jiffies(WAIT_MS)))
			return -ETIMEDOUT;
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/* Sets up the work item for the benchmark, then disables and flushes it. */
static int bench_work(struct c_bench *b)
{
	int ret;

	INIT_WORK(&b->work, c_bench_work_fn);
	init_completion(&b->work_done);
	ret = measure(b, "work_dispatch", N_WORK, bench_work_dispatch, NULL);
	disable_work_sync(&b->work);
	return ret;
}

static int bench_synchronize_rcu(struct c_bench *b, u64 n, u64 *ns, void *arg)
{
	u64 i, t0;

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		synchronize_rcu();
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int run_all(struct c_bench *b)
{
	struct c_bench_res res = { .value = 0x5a5a };
	size_t sz4k = SZ_4K, sz64k = SZ_64K;
	void *buf;
	int ret;

	ret = measure(b, "coherent_alloc_4k", N_COHERENT_ALLOC,
		      bench_coherent_alloc, &sz4k);
	if (ret)
		return ret;
	ret = measure(b, "coherent_alloc_64k", N_COHERENT_ALLOC,
		      bench_coherent_alloc, &sz64k);
	if (ret)
		return ret;
	ret = measure(b, "coherent_alloc_4k_dmam", N_COHERENT_ALLOC,
		      bench_coherent_alloc_dmam, &sz4k);
	if (ret)
		return ret;
	ret = measure(b, "coherent_alloc_64k_dmam", N_COHERENT_ALLOC,
		      bench_coherent_alloc_dmam, &sz64k);
	if (ret)
		return ret;
	ret = bench_coherent_elements(b);
	if (ret)
		return ret;
	ret = bench_projection(b);
	if (ret)
		return ret;
	ret = bench_pool(b);
	if (ret)
		return ret;

	buf = kzalloc(SZ_4K, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = measure(b, "streaming_4k", N_STREAMING, bench_streaming, buf);
	kfree(buf);
	if (ret)
		return ret;

	buf = kmalloc(sizeof(struct c_bench_live), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = measure(b, "streaming_live_1000", N_STREAMING_LIVE,
		      bench_streaming_live, buf);
	kfree(buf);
	if (ret)
		return ret;
	ret = bench_sg_pages(b);
	if (ret)
		return ret;

	ret = measure(b, "plain_read", N_DEVRES, bench_plain_read, &res);
	if (ret)
		return ret;
	ret = measure(b, "rcu_read", N_DEVRES, bench_rcu_read, &res);
	if (ret)
		return ret;
	ret = bench_pgtable(b);
	if (ret)
		return ret;
	ret = measure(b, "mmio_read32", N_MMIO, bench_mmio, NULL);
	if (ret)
		return ret;
	ret = bench_irq(b);
	if (ret)
		return ret;
	ret = bench_work(b);
	if (ret)
		return ret;
	return measure(b, "synchronize_rcu", N_SYNCHRONIZE_RCU,
		       bench_synchronize_rcu, NULL);
}

static int c_bench_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct c_bench *b;
	int ret;

	b = devm_kzalloc(&pdev->dev, sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->pdev = pdev;
	b->dev = &pdev->dev;
	/* As on the Rust side: no transfer, no bounce buffers. */
	ret = dma_set_mask_and_coherent(b->dev, DMA_BIT_MASK(32));
	if (ret)
		return ret;
	ret = pci_enable_device_mem(pdev);
	if (ret)
		return ret;
	/* Also for the interrupt benchmark: an MSI is a write of the device's. */
	pci_set_master(pdev);
	ret = pci_request_region(pdev, 0, DRV_NAME);
	if (ret)
		goto err_disable;
	b->bar = pci_iomap(pdev, 0, 0);
	if (!b->bar) {
		ret = -ENOMEM;
		goto err_release;
	}
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0)
		goto err_unmap;
	pci_set_drvdata(pdev, b);

	ret = run_all(b);
	if (ret)
		pr_info("BENCH-FAILED c: %d\n", ret);
	else
		pr_info("BENCH-DONE c\n");
	/* Freed here, as rust_bench.rs frees its vector at the end of its probe. */
	pci_free_irq_vectors(pdev);
	return 0;

err_unmap:
	pci_iounmap(pdev, b->bar);
err_release:
	pci_release_region(pdev, 0);
err_disable:
	pci_disable_device(pdev);
	return ret;
}

static void c_bench_remove(struct pci_dev *pdev)
{
	struct c_bench *b = pci_get_drvdata(pdev);

	pci_iounmap(pdev, b->bar);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
}

static const struct pci_device_id c_bench_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{}
};
MODULE_DEVICE_TABLE(pci, c_bench_ids);

static struct pci_driver c_bench_driver = {
	.name = DRV_NAME,
	.id_table = c_bench_ids,
	.probe = c_bench_probe,
	.remove = c_bench_remove,
};
module_pci_driver(c_bench_driver);

MODULE_DESCRIPTION("Benchmark of the C API against the Rust driver-core bindings");
MODULE_LICENSE("GPL");
