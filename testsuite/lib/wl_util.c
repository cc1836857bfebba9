/* ref/util.c compiled into libwl: the workloads link statically against
 * libwl.a alone (they must run in a container rootfs without libc), so the
 * shared helpers have to be in this archive too. The harness links libwl.a
 * after libcrmig.a's util.o or before it: the two objects define the same
 * symbols, and an archive member is only pulled for a symbol still missing,
 * so exactly one of them is used. */
#include "util.c"
