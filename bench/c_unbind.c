// SPDX-License-Identifier: GPL-2.0
/*
 * Unbind time of a binding that holds managed allocations, the counterpart of
 * rust_unbind.rs.
 *
 * A PCI driver for QEMU's edu device (1234:11e8) whose probe makes
 * c_unbind_counts[k] allocations of 64 bytes with devm_kzalloc() and keeps
 * them in its driver data, as a driver keeps its resources. Every one of them
 * is freed when the driver is unbound.
 *
 * The module's init registers the driver (which binds the one edu device whose
 * driver_override names it) and then, for each count n of c_unbind_counts:
 * rebinds once, untimed, so that the binding holds n allocations, and REPS
 * times unbinds the device (device_release_driver(), timed) and binds it again
 * (device_attach(), untimed). For every count it prints one line
 *
 *   BENCH c unbind_devres_<n> n=<n> reps=<reps> median=<ns> min=<ns> max=<ns> ns/op
 *
 * whose times are those of one whole unbind (not per allocation), and at the
 * end "BENCH-DONE c-unbind" (or "BENCH-FAILED c-unbind: <error>", and init
 * fails). rust_unbind.rs does the same with Devres; scripts/bench.sh compares
 * the two.
 */

#include <linux/device.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>

#define DRV_NAME "c_unbind"

/* Timed unbinds per count. */
#define REPS 7

/* The size of one allocation, that of the Rust side's values. */
#define VALUE_SIZE 64

/* The numbers of allocations a binding holds; rust_unbind.rs uses the same. */
static const unsigned int c_unbind_counts[] = { 1, 10, 100 };

/* The number of allocations the next probe makes; set by module init. */
static unsigned int c_unbind_count = 1;

/*
 * The device of the first probe, with a reference that module exit drops;
 * NULL before that probe.
 */
static struct pci_dev *c_unbind_pdev;

/* The driver data: the binding's allocations. */
struct c_unbind {
	unsigned int count;
	void *values[] __counted_by(count);
};

static int c_unbind_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	unsigned int i, n = READ_ONCE(c_unbind_count);
	struct c_unbind *u;

	u = devm_kzalloc(&pdev->dev, struct_size(u, values, n), GFP_KERNEL);
	if (!u)
		return -ENOMEM;
	u->count = n;
	for (i = 0; i < n; i++) {
		u->values[i] = devm_kzalloc(&pdev->dev, VALUE_SIZE, GFP_KERNEL);
		if (!u->values[i])
			return -ENOMEM;
	}
	pci_set_drvdata(pdev, u);
	if (!c_unbind_pdev)
		c_unbind_pdev = pci_dev_get(pdev);
	return 0;
}

static const struct pci_device_id c_unbind_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{}
};

static struct pci_driver c_unbind_driver = {
	.name = DRV_NAME,
	.id_table = c_unbind_ids,
	.probe = c_unbind_probe,
};

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Binds dev; fails if no driver took it (-ENODEV) or with the probe's error.
 * device_attach() and device_release_driver() are what the driver core's
 * sysfs bind and unbind attributes call; they take the device lock.
 */
static int c_unbind_attach(struct device *dev)
{
	int ret = device_attach(dev);

	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -ENODEV;
}

/*
 * Times REPS unbinds of dev bound with n allocations, and prints their
 * median, minimum and maximum.
 */
static int c_unbind_measure(struct device *dev, unsigned int n)
{
	u64 ns[REPS], t0;
	int i, ret;

	WRITE_ONCE(c_unbind_count, n);
	/* The binding of the previous count goes; the next holds n. */
	device_release_driver(dev);
	ret = c_unbind_attach(dev);
	if (ret)
		return ret;
	for (i = 0; i < REPS; i++) {
		t0 = ktime_get_ns();
		device_release_driver(dev);
		ns[i] = ktime_get_ns() - t0;
		ret = c_unbind_attach(dev);
		if (ret)
			return ret;
	}
	sort(ns, REPS, sizeof(ns[0]), cmp_u64, NULL);
	pr_info("BENCH c unbind_devres_%u n=%u reps=%d median=%llu min=%llu max=%llu ns/op\n",
		n, n, REPS, ns[REPS / 2], ns[0], ns[REPS - 1]);
	return 0;
}

static void c_unbind_cleanup(void)
{
	/* Unregistered first: no probe can take a reference afterwards. */
	pci_unregister_driver(&c_unbind_driver);
	pci_dev_put(c_unbind_pdev);
	c_unbind_pdev = NULL;
}

static int __init c_unbind_init(void)
{
	unsigned int i;
	int ret;

	WRITE_ONCE(c_unbind_count, c_unbind_counts[0]);
	ret = pci_register_driver(&c_unbind_driver);
	if (ret)
		return ret;
	if (!c_unbind_pdev) {
		pr_info("BENCH-FAILED c-unbind: no edu device bound to %s\n",
			DRV_NAME);
		ret = -ENODEV;
		goto err;
	}
	for (i = 0; i < ARRAY_SIZE(c_unbind_counts); i++) {
		ret = c_unbind_measure(&c_unbind_pdev->dev, c_unbind_counts[i]);
		if (ret) {
			pr_info("BENCH-FAILED c-unbind: n=%u: %d\n",
				c_unbind_counts[i], ret);
			goto err;
		}
	}
	pr_info("BENCH-DONE c-unbind\n");
	return 0;

err:
	c_unbind_cleanup();
	return ret;
}
module_init(c_unbind_init);

static void __exit c_unbind_exit(void)
{
	c_unbind_cleanup();
}
module_exit(c_unbind_exit);

MODULE_DESCRIPTION("Unbind time of a binding holding devm_ allocations, against Rust's Devres");
MODULE_LICENSE("GPL");
