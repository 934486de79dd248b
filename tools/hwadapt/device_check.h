/* --device SPEC for the commands that run on one device (train, generate):
 * checked before any work, with the devices this machine has in the error. */
#ifndef HWADAPT_TOOLS_DEVICE_CHECK_H
#define HWADAPT_TOOLS_DEVICE_CHECK_H

/* 0 when a backend can be made for spec (NULL: the default, "cpu"), or for
 * "auto" (the CPU, with the graphs placed across devices).
 * Otherwise returns 2 for a device that is not there (the backend's
 * HWA_E_NOTFOUND or HWA_E_INVALID), a usage error: "hwadapt CMD: --device
 * SPEC: <why>; allowed: this machine's devices, cpu, opencl:0 (see ...)";
 * or 1 for one that is there but failed (HWA_E_DEVICE, HWA_E_NOMEM), after
 * "hwadapt CMD: --device SPEC: <why>; this machine's devices: ...". from: where the value came from ("" or
 * " (from cfg.ini:3)"). */
int cli_device_check(const char *cmd, const char *spec, const char *from);
/* The same for each device of a --devices comma list (NULL or "": 0); 2
 * for a malformed list. */
int cli_device_list_check(const char *cmd, const char *list, const char *from);

#endif
