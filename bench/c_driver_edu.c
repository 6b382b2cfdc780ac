// SPDX-License-Identifier: GPL-2.0
/*
 * C driver for QEMU's edu educational PCI device.
 *
 * The C twin of samples/rust/rust_driver_edu.rs, kept for comparison: it does
 * what the Rust sample's probe and remove do, in the same order and with the
 * same messages, with the C API, and turns bus mastering off where the Rust
 * PCI glue does, when remove returns or probe fails. The cleanup that the
 * Rust version gets from its types (Devres, IrqVectors, irq::Registration,
 * CoherentAllocation, SgMapping, DmaPool, IoPageTable) is done here by
 * managed (devres) resources for what lives as long as the binding (and the
 * DMA pool), released in the reverse order of the Rust ones too (the
 * interrupt, its vectors, the BAR), and by goto unwinding for what lives only
 * during the probe.
 *
 * The device (PCI 1234:11e8, see QEMU's docs/specs/edu.rst) has a 1 MiB memory
 * BAR with an identification register, a liveness register that returns the
 * complement of what was written to it, a factorial unit, and a DMA engine
 * that copies between memory and a 4 KiB buffer inside the device. At probe
 * the driver checks the first three, then copies a pattern to the device and
 * back, once through a coherent allocation and once through scatter-gather
 * mappings of separate pages, one transfer per segment, programmed from
 * descriptors it keeps in a DMA pool; it checks every byte and logs the
 * results. The factorial unit and the DMA engine report their completion by
 * interrupt: the driver takes its MSI vector, or the INTx line where MSI is
 * not available, and waits for the handler, which acknowledges the interrupt
 * and signals the event; it polls nothing. Where the ARM LPAE io-pgtable
 * format is built, it also describes a coherent buffer in an LPAE stage-1
 * page table, as a driver for a device with its own MMU would, and checks the
 * translation of every page.
 */

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/gfp.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/io-pgtable.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>

#define DRV_NAME "c_driver_edu"

/* The registers this driver uses. */
#define EDU_REG_ID		0x00
#define EDU_REG_LIVENESS	0x04
#define EDU_REG_FACTORIAL	0x08
#define EDU_REG_STATUS		0x20
/* STATUS: raise an interrupt when a factorial is done. */
#define EDU_STATUS_IRQ		0x80
/* The interrupts raised and not acknowledged yet, and where to acknowledge. */
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_ACK		0x64
/* IRQ_STATUS: a factorial is done; a DMA transfer is done. */
#define EDU_IRQ_FACTORIAL	0x001
#define EDU_IRQ_DMA		0x100
/* DMA source, destination, length and command, 64 bits each. */
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
/* DMA_CMD: start a transfer; cleared by the device when it is done. */
#define EDU_DMA_START		0x1
/* DMA_CMD: the transfer goes from the device's buffer to memory. */
#define EDU_DMA_FROM_DEVICE	0x2
/* DMA_CMD: raise an interrupt when the transfer is done. */
#define EDU_DMA_IRQ		0x4
/* The extent of the registers above: what the BAR must at least have. */
#define EDU_REGS_END		0x100

/* The device's own buffer, in its DMA address space, and its size. */
#define EDU_BUFFER		0x40000
#define EDU_BUFFER_SIZE		4096
/* Where the page-table demonstration maps its buffer, and its 4 KiB pages. */
#define MMU_IOVA		0x1000000000UL
#define MMU_PAGES		8
/* The device reaches 28 bits of address. */
#define EDU_DMA_BITS		28
/*
 * A transfer takes about 100 ms of the device's clock; give up on an interrupt
 * after a second.
 */
#define IRQ_TIMEOUT_MS		1000

/* The low byte that every edu identification register reads as. */
#define ID_MAGIC		0xed
/* The pages of the scatter-gather round trip. */
#define SG_PAGES		3

/* One transfer for the DMA engine, as the driver queues it in DMA-pool memory. */
struct edu_desc {
	u64 src;
	u64 dst;
	u32 len;
	/* EDU_DMA_FROM_DEVICE or 0. */
	u32 dir;
};

/* A queued descriptor, and its DMA address to give it back to the pool. */
struct edu_queued {
	struct edu_desc *desc;
	dma_addr_t dma;
};

struct c_edu {
	void __iomem *bar;
	/* IRQ_STATUS bits the handler acknowledged and no waiter took yet. */
	atomic_t status;
	/* The interrupts handled. */
	atomic_t handled;
	/* Signalled once per interrupt handled. */
	struct completion signal;
};

/*
 * Waits for the interrupt that reports bit, and takes it; -ETIMEDOUT after
 * IRQ_TIMEOUT_MS without one.
 */
static int edu_wait_for(struct c_edu *edu, u32 bit)
{
	unsigned long timeout;

	for (;;) {
		if (atomic_fetch_andnot(bit, &edu->status) & bit)
			return 0;
		/*
		 * The handler sets the bit before it signals: a wake-up that
		 * comes between the check and the wait is not lost, the
		 * completion counts it.
		 */
		timeout = msecs_to_jiffies(IRQ_TIMEOUT_MS);
		if (!wait_for_completion_timeout(&edu->signal, timeout))
			return -ETIMEDOUT;
	}
}

/* The handler: acknowledges what the device raised and tells the waiter. */
static irqreturn_t edu_irq(int irq, void *data)
{
	struct c_edu *edu = data;
	u32 status = readl(edu->bar + EDU_REG_IRQ_STATUS);

	/* Another device's interrupt, on a shared INTx line. */
	if (!status)
		return IRQ_NONE;
	writel(status, edu->bar + EDU_REG_IRQ_ACK);
	atomic_or(status, &edu->status);
	atomic_inc(&edu->handled);
	complete(&edu->signal);
	return IRQ_HANDLED;
}

static int edu_check_liveness(void __iomem *bar)
{
	const u32 pattern = 0x5a5aa5a5;

	writel(pattern, bar + EDU_REG_LIVENESS);
	if (readl(bar + EDU_REG_LIVENESS) != ~pattern)
		return -EIO;
	return 0;
}

/*
 * Runs one transfer of count bytes and waits for its interrupt. If the device
 * does not finish in time, the transfer is still programmed and the caller
 * frees or unmaps its memory on the error: bus mastering goes off first, so
 * that the device can not write that memory later.
 */
static int edu_dma(struct pci_dev *pdev, struct c_edu *edu, dma_addr_t src,
		   dma_addr_t dst, size_t count, bool from_device)
{
	void __iomem *bar = edu->bar;
	int ret;

	writeq(src, bar + EDU_REG_DMA_SRC);
	writeq(dst, bar + EDU_REG_DMA_DST);
	writeq(count, bar + EDU_REG_DMA_COUNT);
	writeq(EDU_DMA_START | EDU_DMA_IRQ |
	       (from_device ? EDU_DMA_FROM_DEVICE : 0), bar + EDU_REG_DMA_CMD);
	ret = edu_wait_for(edu, EDU_IRQ_DMA);
	if (ret) {
		pci_clear_master(pdev);
		dev_err(&pdev->dev, "edu: DMA timed out, bus mastering off\n");
	}
	return ret;
}

static u8 edu_pattern(size_t i, u8 seed)
{
	return (u8)i * 31 + seed;
}

/*
 * Copies a pattern from a coherent buffer to the device and back into its
 * second half; returns the number of bytes that differ, or an error.
 */
static int edu_coherent_round_trip(struct pci_dev *pdev, struct c_edu *edu)
{
	struct device *dev = &pdev->dev;
	size_t size = 2 * EDU_BUFFER_SIZE;
	dma_addr_t handle;
	int differ = 0, ret;
	u8 *buf;
	size_t i;

	buf = dma_alloc_coherent(dev, size, &handle, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < EDU_BUFFER_SIZE; i++) {
		buf[i] = edu_pattern(i, 0x5a);
		buf[EDU_BUFFER_SIZE + i] = 0;
	}
	ret = edu_dma(pdev, edu, handle, EDU_BUFFER, EDU_BUFFER_SIZE, false);
	if (ret)
		goto out_free;
	ret = edu_dma(pdev, edu, EDU_BUFFER, handle + EDU_BUFFER_SIZE,
		      EDU_BUFFER_SIZE, true);
	if (ret)
		goto out_free;
	for (i = 0; i < EDU_BUFFER_SIZE; i++)
		if (buf[EDU_BUFFER_SIZE + i] != edu_pattern(i, 0x5a))
			differ++;
	ret = differ;
out_free:
	dma_free_coherent(dev, size, buf, handle);
	return ret;
}

/* Frees the pages of sgt and the table. */
static void edu_sg_free(struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int p;

	for_each_sgtable_sg(sgt, sg, p)
		if (sg_page(sg))
			__free_page(sg_page(sg));
	sg_free_table(sgt);
}

/*
 * Describes SG_PAGES separate pages in sgt, one entry each, filled with the
 * pattern if fill.
 */
static int edu_sg_alloc(struct sg_table *sgt, bool fill)
{
	struct scatterlist *sg;
	struct page *page;
	unsigned int p;
	size_t i;
	u8 *buf;
	int ret;

	ret = sg_alloc_table(sgt, SG_PAGES, GFP_KERNEL);
	if (ret)
		return ret;
	for_each_sgtable_sg(sgt, sg, p) {
		/* The device reaches 28 bits: below 4 GiB is not enough. */
		page = alloc_page(GFP_KERNEL | GFP_DMA);
		if (!page) {
			edu_sg_free(sgt);
			return -ENOMEM;
		}
		sg_set_page(sg, page, PAGE_SIZE, 0);
		buf = page_address(page);
		for (i = 0; fill && i < PAGE_SIZE; i++)
			buf[i] = edu_pattern(p * PAGE_SIZE + i, 0xa5);
	}
	return 0;
}

/*
 * Queues, in DMA-pool memory, the transfers that copy src to dst through the
 * device's buffer: for each piece that lies within one segment of each, one
 * transfer in and one out. q has room for max of them and is zeroed: the
 * caller gives what it holds back to the pool, also on an error. Returns the
 * number of transfers queued, or an error.
 */
static int edu_queue(struct dma_pool *pool, struct sg_table *src,
		     struct sg_table *dst, struct edu_queued *q, int max)
{
	struct scatterlist *s = src->sgl, *d = dst->sgl;
	unsigned int i = 0, j = 0, si = 0, dj = 0;
	int n = 0, k;

	while (i < src->nents && j < dst->nents) {
		unsigned int len = min3(sg_dma_len(s) - si, sg_dma_len(d) - dj,
					EDU_BUFFER_SIZE);
		const struct edu_desc t[] = {
			{ sg_dma_address(s) + si, EDU_BUFFER, len, 0 },
			{ EDU_BUFFER, sg_dma_address(d) + dj, len,
			  EDU_DMA_FROM_DEVICE },
		};

		for (k = 0; k < ARRAY_SIZE(t); k++, n++) {
			if (n == max)
				return -EINVAL;
			q[n].desc = dma_pool_alloc(pool, GFP_KERNEL, &q[n].dma);
			if (!q[n].desc)
				return -ENOMEM;
			*q[n].desc = t[k];
		}
		si += len;
		dj += len;
		if (si == sg_dma_len(s)) {
			s = sg_next(s);
			i++;
			si = 0;
		}
		if (dj == sg_dma_len(d)) {
			d = sg_next(d);
			j++;
			dj = 0;
		}
	}
	return n;
}

/*
 * Copies a pattern from SG_PAGES separate pages to the device and back into
 * as many, through scatter-gather mappings, one transfer per segment from
 * descriptors in a DMA pool; returns the number of bytes that differ, or an
 * error, and the number of segments in segments.
 */
static int edu_sg_round_trip(struct pci_dev *pdev, struct c_edu *edu,
			     struct dma_pool *pool, unsigned int *segments)
{
	/* At most a piece per segment of each side, two transfers a piece. */
	struct edu_queued q[4 * SG_PAGES] = {};
	struct device *dev = &pdev->dev;
	struct sg_table out, back;
	struct scatterlist *sg;
	int differ = 0, ret, n, k;
	struct edu_desc *d;
	unsigned int p;
	size_t i;
	u8 *buf;

	ret = edu_sg_alloc(&out, true);
	if (ret)
		return ret;
	ret = dma_map_sgtable(dev, &out, DMA_TO_DEVICE, 0);
	if (ret)
		goto out_free_out;
	ret = edu_sg_alloc(&back, false);
	if (ret)
		goto out_unmap_out;
	ret = dma_map_sgtable(dev, &back, DMA_FROM_DEVICE, 0);
	if (ret)
		goto out_free_back;

	n = edu_queue(pool, &out, &back, q, ARRAY_SIZE(q));
	ret = min(n, 0);
	for (k = 0; !ret && k < n; k++) {
		d = q[k].desc;
		ret = edu_dma(pdev, edu, d->src, d->dst, d->len,
			      d->dir == EDU_DMA_FROM_DEVICE);
	}
	for (k = 0; k < ARRAY_SIZE(q) && q[k].desc; k++)
		dma_pool_free(pool, q[k].desc, q[k].dma);
	if (ret)
		goto out_unmap_back;

	dma_sync_sgtable_for_cpu(dev, &back, DMA_FROM_DEVICE);
	for_each_sgtable_sg(&back, sg, p) {
		buf = sg_virt(sg);
		for (i = 0; i < sg->length; i++)
			if (buf[i] != edu_pattern(p * PAGE_SIZE + i, 0xa5))
				differ++;
	}
	*segments = out.nents;
	ret = differ;
out_unmap_back:
	dma_unmap_sgtable(dev, &back, DMA_FROM_DEVICE, 0);
out_free_back:
	edu_sg_free(&back);
out_unmap_out:
	dma_unmap_sgtable(dev, &out, DMA_TO_DEVICE, 0);
out_free_out:
	edu_sg_free(&out);
	return ret;
}

/* The edu device has no MMU: nothing to invalidate. */
static void edu_tlb_flush_all(void *cookie)
{
}

static void edu_tlb_flush_walk(unsigned long iova, size_t size,
			       size_t granule, void *cookie)
{
}

static void edu_tlb_add_page(struct iommu_iotlb_gather *gather,
			     unsigned long iova, size_t granule, void *cookie)
{
}

static const struct iommu_flush_ops edu_flush_ops = {
	.tlb_flush_all = edu_tlb_flush_all,
	.tlb_flush_walk = edu_tlb_flush_walk,
	.tlb_add_page = edu_tlb_add_page,
};

/*
 * Builds an ARM LPAE stage-1 table that maps a coherent DMA buffer at
 * MMU_IOVA, as a GPU driver would for its own MMU, checks that every page
 * translates to the buffer, and unmaps it; returns the number of pages that
 * translated correctly, or an error.
 */
static int edu_page_table(struct device *dev)
{
	struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G,
		.ias = 48,
		.oas = 48,
		.coherent_walk = true,
		.tlb = &edu_flush_ops,
		.iommu_dev = dev,
	};
	size_t size = MMU_PAGES * SZ_4K, mapped = 0, unmapped, offset;
	struct iommu_iotlb_gather gather;
	struct io_pgtable_ops *ops;
	int good = 0, ret, page;
	dma_addr_t handle;
	void *buf;

	buf = dma_alloc_coherent(dev, size, &handle, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, &cfg, dev);
	if (!ops) {
		ret = -EINVAL;
		goto out_free_buf;
	}

	ret = ops->map_pages(ops, MMU_IOVA, handle, SZ_4K, MMU_PAGES,
			     IOMMU_READ | IOMMU_WRITE, GFP_KERNEL, &mapped);
	if (ret || mapped != size) {
		/* Undo a partial mapping. */
		if (mapped) {
			iommu_iotlb_gather_init(&gather);
			ops->unmap_pages(ops, MMU_IOVA, SZ_4K, mapped / SZ_4K,
					 &gather);
		}
		ret = ret ?: -ENOMEM;
		goto out_free_ops;
	}

	for (page = 0; page < MMU_PAGES; page++) {
		offset = page * SZ_4K + 0x123;
		/* The edu device sits behind no IOMMU: DMA addresses are physical. */
		if (ops->iova_to_phys(ops, MMU_IOVA + offset) == handle + offset)
			good++;
	}

	iommu_iotlb_gather_init(&gather);
	unmapped = ops->unmap_pages(ops, MMU_IOVA, SZ_4K, MMU_PAGES, &gather);
	ret = unmapped == size ? good : -ENOMEM;
out_free_ops:
	free_io_pgtable_ops(ops);
out_free_buf:
	dma_free_coherent(dev, size, buf, handle);
	return ret;
}

static int edu_factorial(struct c_edu *edu, u32 n, u32 *result)
{
	int ret;

	writel(EDU_STATUS_IRQ, edu->bar + EDU_REG_STATUS);
	writel(n, edu->bar + EDU_REG_FACTORIAL);
	ret = edu_wait_for(edu, EDU_IRQ_FACTORIAL);
	if (ret)
		return ret;
	*result = readl(edu->bar + EDU_REG_FACTORIAL);
	return 0;
}

static void edu_free_irq_vectors(void *pdev)
{
	pci_free_irq_vectors(pdev);
}

/*
 * Takes the device's interrupt, MSI if it can be had, else the INTx line, for
 * a handler that reports to edu.
 */
static int edu_request_irq(struct pci_dev *pdev, struct c_edu *edu)
{
	struct device *dev = &pdev->dev;
	int irq, ret;

	/* Freed at unbind, after the interrupt on them. */
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		return ret;
	ret = devm_add_action_or_reset(dev, edu_free_irq_vectors, pdev);
	if (ret)
		return ret;
	irq = pci_irq_vector(pdev, 0);
	if (irq < 0)
		return irq;
	/*
	 * An INTx line may be shared with other devices; an MSI vector is the
	 * device's own.
	 */
	return devm_request_irq(dev, irq, edu_irq,
				pdev->msi_enabled ? 0 : IRQF_SHARED, DRV_NAME,
				edu);
}

static void edu_disable_device(void *pdev)
{
	pci_disable_device(pdev);
}

static int edu_probe(struct pci_dev *pdev)
{
	struct device *dev = &pdev->dev;
	int differ, differ2, pages, ret;
	const u32 n = 10;
	void __iomem *bar;
	struct c_edu *edu;
	unsigned int segments = 0;
	struct dma_pool *pool;
	u32 ident, result;

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret)
		return ret;
	/* Disabled again at unbind, or now if the action can not be added. */
	ret = pci_enable_device_mem(pdev);
	if (ret)
		return ret;
	ret = devm_add_action_or_reset(dev, edu_disable_device, pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);

	if (!(pci_resource_flags(pdev, 0) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, 0) < EDU_REGS_END)
		return -EINVAL;
	/* Released and unmapped at unbind. */
	bar = pcim_iomap_region(pdev, 0, DRV_NAME);
	if (IS_ERR(bar))
		return PTR_ERR(bar);
	edu = devm_kzalloc(dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->bar = bar;
	init_completion(&edu->signal);
	/* Freed at unbind, before the vectors and the BAR. */
	ret = edu_request_irq(pdev, edu);
	if (ret)
		return ret;

	ident = readl(bar + EDU_REG_ID);
	if ((ident & 0xff) != ID_MAGIC) {
		dev_err(dev, "edu: unexpected identification %#010x\n", ident);
		return -ENODEV;
	}
	dev_info(dev, "edu: identification %#010x (version %u.%u)\n", ident,
		 ident >> 24, (ident >> 16) & 0xff);

	ret = edu_check_liveness(bar);
	if (ret) {
		dev_err(dev, "edu: liveness check failed\n");
		return ret;
	}
	dev_info(dev, "edu: liveness check passed\n");

	ret = edu_factorial(edu, n, &result);
	if (ret) {
		dev_err(dev, "edu: factorial timed out\n");
		return ret;
	}
	dev_info(dev, "edu: factorial(%u) = %u\n", n, result);

	differ = edu_coherent_round_trip(pdev, edu);
	if (differ < 0)
		return differ;
	dev_info(dev, "edu: coherent DMA round trip of %d bytes, %d differ\n",
		 EDU_BUFFER_SIZE, differ);
	/* The device moves its buffer's size at most at a time: cut to that. */
	dma_set_max_seg_size(dev, EDU_BUFFER_SIZE);
	/* Destroyed at unbind, before the interrupt. */
	pool = dmam_pool_create(DRV_NAME, dev, sizeof(struct edu_desc), 0, 0);
	if (!pool)
		return -ENOMEM;
	differ2 = edu_sg_round_trip(pdev, edu, pool, &segments);
	if (differ2 < 0)
		return differ2;
	dev_info(dev,
		 "edu: scatter-gather DMA round trip of %lu bytes in %u segments, %d differ\n",
		 SG_PAGES * PAGE_SIZE, segments, differ2);
	if (differ + differ2)
		return -EIO;

	if (IS_ENABLED(CONFIG_IOMMU_IO_PGTABLE_LPAE)) {
		pages = edu_page_table(dev);
		if (pages < 0)
			return pages;
		dev_info(dev,
			 "edu: io-pgtable ARM LPAE stage 1 translates %d of %d buffer pages\n",
			 pages, MMU_PAGES);
		if (pages != MMU_PAGES)
			return -EIO;
	}
	dev_info(dev, "edu: %u interrupts handled (%s)\n",
		 atomic_read(&edu->handled),
		 pdev->msi_enabled ? "MSI" : "INTx");

	pci_set_drvdata(pdev, edu);
	return 0;
}

/*
 * Bus mastering goes off when probe fails or remove returns, before the
 * managed resources are released, as the Rust PCI glue does it.
 */
static int c_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret = edu_probe(pdev);

	if (ret)
		pci_clear_master(pdev);
	return ret;
}

static void c_edu_remove(struct pci_dev *pdev)
{
	dev_info(&pdev->dev, "edu: removed\n");
	pci_clear_master(pdev);
}

static const struct pci_device_id c_edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{}
};
MODULE_DEVICE_TABLE(pci, c_edu_ids);

static struct pci_driver c_edu_driver = {
	.name = DRV_NAME,
	.id_table = c_edu_ids,
	.probe = c_edu_probe,
	.remove = c_edu_remove,
};
module_pci_driver(c_edu_driver);

MODULE_DESCRIPTION("C driver for QEMU's edu PCI device (twin of rust_driver_edu)");
MODULE_LICENSE("GPL");
