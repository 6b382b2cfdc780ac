// SPDX-License-Identifier: GPL-2.0

#include <linux/iommu.h>
#include <linux/vmstat.h>

void rust_helper_iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_gather_init(gather);
}

unsigned long rust_helper_global_node_page_state(enum node_stat_item item)
{
	return global_node_page_state(item);
}
