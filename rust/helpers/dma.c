// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu-dma.h>
#include <linux/mm.h>
#include <linux/swiotlb.h>

dma_addr_t rust_helper_dma_map_single_attrs(struct device *dev, void *ptr,
					    size_t size,
					    enum dma_data_direction dir,
					    unsigned long attrs)
{
	return dma_map_single_attrs(dev, ptr, size, dir, attrs);
}

void rust_helper_dma_unmap_single_attrs(struct device *dev, dma_addr_t addr,
					size_t size,
					enum dma_data_direction dir,
					unsigned long attrs)
{
	dma_unmap_single_attrs(dev, addr, size, dir, attrs);
}

int rust_helper_dma_mapping_error(struct device *dev, dma_addr_t dma_addr)
{
	return dma_mapping_error(dev, dma_addr);
}

void rust_helper_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
					 size_t size,
					 enum dma_data_direction dir)
{
	dma_sync_single_for_cpu(dev, addr, size, dir);
}

void rust_helper_dma_sync_single_for_device(struct device *dev,
					    dma_addr_t addr, size_t size,
					    enum dma_data_direction dir)
{
	dma_sync_single_for_device(dev, addr, size, dir);
}

/* What the direct mapping decides with, for a check before a mapping. */

bool rust_helper_get_dma_ops_is_set(struct device *dev)
{
	return get_dma_ops(dev);
}

bool rust_helper_use_dma_iommu(struct device *dev)
{
	return use_dma_iommu(dev);
}

dma_addr_t rust_helper_phys_to_dma(struct device *dev, phys_addr_t paddr)
{
	return phys_to_dma(dev, paddr);
}

bool rust_helper_dma_capable(struct device *dev, dma_addr_t addr, size_t size,
			     bool is_ram)
{
	return dma_capable(dev, addr, size, is_ram);
}

bool rust_helper_dma_kmalloc_needs_bounce(struct device *dev, size_t size,
					  enum dma_data_direction dir)
{
	return dma_kmalloc_needs_bounce(dev, size, dir);
}

phys_addr_t rust_helper_virt_to_phys(void *addr)
{
	return virt_to_phys(addr);
}

bool rust_helper_is_swiotlb_force_bounce(struct device *dev)
{
	return is_swiotlb_force_bounce(dev);
}

bool rust_helper_is_swiotlb_active(struct device *dev)
{
	return is_swiotlb_active(dev);
}

/* The bounds of the device's default bounce pool; false without one. */
bool rust_helper_swiotlb_defpool(struct device *dev, phys_addr_t *start,
				 phys_addr_t *end)
{
#ifdef CONFIG_SWIOTLB
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;

	if (mem && mem->nslabs) {
		*start = mem->defpool.start;
		*end = mem->defpool.end;
		return true;
	}
#endif
	return false;
}

unsigned long rust_helper_totalram_pages(void)
{
	return totalram_pages();
}
