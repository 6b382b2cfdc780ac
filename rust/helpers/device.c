// SPDX-License-Identifier: GPL-2.0

#include <linux/device.h>

const char *rust_helper_dev_name(const struct device *dev)
{
	return dev_name(dev);
}

int rust_helper_devm_add_action_or_reset(struct device *dev,
					 void (*action)(void *), void *data)
{
	return devm_add_action_or_reset(dev, action, data);
}
