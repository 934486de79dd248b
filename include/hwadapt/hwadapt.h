/* hwadapt — adapts AI models to the hardware at hand. The umbrella header:
 * include this one and link with libhwadapt. Everything public is declared in
 * the headers it includes; nothing else is a published API. */
#ifndef HWADAPT_H
#define HWADAPT_H

#define HWA_VERSION_MAJOR 0
#define HWA_VERSION_MINOR 1
#define HWA_VERSION_PATCH 0
#define HWA_VERSION_STRING "0.1.0"

#include "status.h"
#include "tensor.h"
#include "graph.h"
#include "backend.h"
#include "sched.h"
#include "hw.h"
#include "io.h"
#include "nn.h"
#include "train.h"
#include "bench.h"
#include "settings.h"
#include "tune.h"
#include "compress.h"

#endif
