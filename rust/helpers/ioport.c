// SPDX-License-Identifier: GPL-2.0

#include <linux/ioport.h>

struct resource *rust_helper_request_mem_region(resource_size_t start,
						resource_size_t n,
						const char *name)
{
	return request_mem_region(start, n, name);
}

void rust_helper_release_mem_region(resource_size_t start, resource_size_t n)
{
	release_mem_region(start, n);
}
