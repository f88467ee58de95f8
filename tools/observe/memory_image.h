/*
 * memory_image.h - a target's memory held in one buffer: the format that
 * backend_memory.c reads, tests/fuzz/make_image.c writes from a live
 * fixture, and the fuzzer's mutator patches.  Not a format of gt's
 * runtime: it exists so that libgtobserve can be driven over a registry
 * image without a process or a core file (tests/fuzz/).
 *
 * Little-endian, every field 8-byte aligned:
 *
 *   offset 0    char magic[8]   GTO_IMAGE_MAGIC ("GTIMAGE1")
 *   offset 8    u64  registry   address of gt_registry in the image
 *   offset 16   u64  now        the target's CLOCK_MONOTONIC "now"
 *   offset 24   u32  flags      GTO_IMAGE_*
 *   offset 28   u32  nmaps      mappings of the program file that follow
 *   offset 32   u32  nsegs      segments that follow the mappings
 *   offset 36   u32  program    which program file the mappings map: 0
 *                               none (no symbols, no text), N the Nth the
 *                               reader was given (tests/fuzz/ names them)
 *   offset 40   u64  regs[17]   the running thread's registers (DWARF
 *                               numbering), when GTO_IMAGE_REGS
 *   offset 176  nmaps x struct gto_image_map
 *   then        nsegs x (struct gto_image_seg, then filesz bytes padded
 *                        to a multiple of 8)
 *
 * A segment covers [addr, addr + memsz); its first filesz bytes are
 * given, the rest read as zeros (as a core's PT_LOAD).  Segments are in
 * address order and do not overlap.  Addresses no segment covers but a
 * mapping does are read from the program file, as a core's text is.
 */
#ifndef GTO_MEMORY_IMAGE_H
#define GTO_MEMORY_IMAGE_H

#include <stdint.h>

#define GTO_IMAGE_MAGIC "GTIMAGE1"

#define GTO_IMAGE_MOVES 0x1u  /* read as a live target: memory_moves set, so
                               * the retry and re-read paths run */
#define GTO_IMAGE_REGS 0x2u   /* regs[] are the running thread's */
#define GTO_IMAGE_EXACT 0x4u  /* now is exact, not a lower bound */

#define GTO_IMAGE_MAX_MAPS 64u
#define GTO_IMAGE_MAX_SEGS 65536u

struct gto_image_head {
    char magic[8];
    uint64_t registry;
    uint64_t now;
    uint32_t flags;
    uint32_t nmaps;
    uint32_t nsegs;
    uint32_t program;
    uint64_t regs[17];
};

/* A mapping of the program file: [start, end) maps the file from offset. */
struct gto_image_map {
    uint64_t start, end, offset;
};

struct gto_image_seg {
    uint64_t addr, memsz, filesz;
};

_Static_assert(sizeof(struct gto_image_head) == 176, "image head layout");
_Static_assert(sizeof(struct gto_image_map) == 24, "image map layout");
_Static_assert(sizeof(struct gto_image_seg) == 24, "image segment layout");

#endif /* GTO_MEMORY_IMAGE_H */
