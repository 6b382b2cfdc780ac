// SPDX-License-Identifier: GPL-2.0

#include <linux/iommu.h>

void rust_helper_iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_gather_init(gather);
}
