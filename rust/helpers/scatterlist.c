// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/vmalloc.h>

void rust_helper_sg_set_page(struct scatterlist *sg, struct page *page,
			     unsigned int len, unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}

dma_addr_t rust_helper_sg_dma_address(struct scatterlist *sg)
{
	return sg_dma_address(sg);
}

unsigned int rust_helper_sg_dma_len(struct scatterlist *sg)
{
	return sg_dma_len(sg);
}

void rust_helper_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				   enum dma_data_direction dir,
				   unsigned long attrs)
{
	dma_unmap_sgtable(dev, sgt, dir, attrs);
}

void rust_helper_dma_sync_sgtable_for_cpu(struct device *dev,
					  struct sg_table *sgt,
					  enum dma_data_direction dir)
{
	dma_sync_sgtable_for_cpu(dev, sgt, dir);
}

void rust_helper_dma_sync_sgtable_for_device(struct device *dev,
					     struct sg_table *sgt,
					     enum dma_data_direction dir)
{
	dma_sync_sgtable_for_device(dev, sgt, dir);
}

unsigned int rust_helper_dma_get_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}

unsigned long rust_helper_dma_get_seg_boundary(struct device *dev)
{
	return dma_get_seg_boundary(dev);
}

phys_addr_t rust_helper_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

struct page *rust_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

struct page *rust_helper_virt_to_page(const void *addr)
{
	return virt_to_page(addr);
}

void *rust_helper_page_address(struct page *page)
{
	return page_address(page);
}

bool rust_helper_is_vmalloc_addr(const void *addr)
{
	return is_vmalloc_addr(addr);
}
