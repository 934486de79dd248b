/* What the protobuf-c side of the ONNX reader shares (pb_*.c only: the
 * generated onnx.pb-c.h exists only in builds with the reader). */
#ifndef HWADAPT_IO_ONNX_PB_INTERNAL_H
#define HWADAPT_IO_ONNX_PB_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "onnx.pb-c.h"
#include "io/onnx/onnx_internal.h"

/* protobuf-c leaves unset strings NULL. */
#define HWA__PB_STR(s) ((s) ? (s) : "")

/* Unpacks a message of descriptor d from bytes after checking its nesting
 * depth, with an allocator that refuses to grow past a bound proportional
 * to the input (a few bytes of wire may unpack into hundreds). *out is
 * freed with hwa__onnx_pb_free. Errors name label. */
hwa_status hwa__onnx_pb_unpack(const ProtobufCMessageDescriptor *d, const void *data, size_t size,
                               const char *label, void **out);
void hwa__onnx_pb_free(void *pb);

/* Converts t into the view *out (its data in t's bytes, m's arena or m's
 * external mappings; t must outlive the view). what names the tensor in
 * messages ("initializer 'w'"). Every check the header promises. */
hwa_status hwa__onnx_tensor_convert(hwa_onnx *m, const Onnx__TensorProto *t, const char *what, hwa_onnx_array *out);

#endif
