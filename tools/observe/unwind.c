/*
 * unwind.c - libunwind's remote API over a snapshot.
 *
 * libunwind asks for memory, registers and unwind tables through the
 * accessors below; none of them touches the target except through the
 * backend, so the same code unwinds a live process (never stopped: the
 * thread is parked, and its stack was copied in the snapshot) and a core.
 *
 *   access_mem      the thread's stack copy first; anything else (unwind
 *                   tables, text) through a per-snapshot page cache
 *   access_reg      the registers gt__ctx_switch saved (or, for a core's
 *                   running thread, NT_PRSTATUS); others read as unknown
 *   find_proc_info  the .eh_frame_hdr search table of the module holding
 *                   the pc (libdw knows the modules and their load bias),
 *                   handed to libunwind's own table search
 */
#include <errno.h>
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_FRAMES 4096
#define PAGE 4096u

/* libunwind exports its table search but does not declare it; this is
 * the same entry its ptrace and coredump accessors use. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di,
                                              unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

/* A module's .eh_frame_hdr search table, found once per module. */
struct gto_unw_table {
    int ok;
    unw_dyn_info_t di;
};

static const uint8_t *cached_page(gto_target *t, uint64_t page)
{
    uint64_t v = gto_pcmap_get(&t->pages, page);
    if (v)
        return v == 1 ? NULL : (const uint8_t *)(uintptr_t)v;
    uint8_t *buf = malloc(PAGE);
    if (buf && t->be->read(t, page, buf, PAGE) < 0) {
        free(buf);
        buf = NULL;
    }
    gto_pcmap_put(&t->pages, page, buf ? (uint64_t)(uintptr_t)buf : 1);
    return buf;
}

static int read_word(struct gto_unw_thread *u, uint64_t addr, uint64_t *val)
{
    /* addr + 8 would wrap for an address near 2^64 (a corrupt saved
     * rbp): compare what is left of the copy instead. */
    if (addr >= u->copy_lo && addr < u->copy_hi && u->copy_hi - addr >= 8) {
        memcpy(val, u->copy + (addr - u->copy_lo), 8);
        return 0;
    }
    uint8_t w[8];
    for (int i = 0; i < 8;) {
        uint64_t a = addr + (uint64_t)i;
        const uint8_t *p = cached_page(u->t, a & ~(uint64_t)(PAGE - 1));
        if (!p)
            return -1;
        size_t in = PAGE - (size_t)(a & (PAGE - 1));
        size_t n = in < (size_t)(8 - i) ? in : (size_t)(8 - i);
        memcpy(w + i, p + (a & (PAGE - 1)), n);
        i += (int)n;
    }
    memcpy(val, w, 8);
    return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
                      int write, void *arg)
{
    (void)as;
    if (write)
        return -UNW_EREADONLYREG; /* a reader never writes to the target */
    uint64_t v;
    if (read_word(arg, addr, &v) < 0)
        return -UNW_EINVAL;
    *val = v;
    return 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val,
                      int write, void *arg)
{
    (void)as;
    struct gto_unw_thread *u = arg;
    if (write)
        return -UNW_EREADONLYREG;
    if (reg < 0 || reg > 16)
        return -UNW_EBADREG;
    /* A register the switch did not save was clobbered by the call: it
     * reads as 0, and no CFI rule of a call site depends on it. */
    *val = (u->valid >> reg) & 1 ? u->regs[reg] : 0;
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
                        int write, void *arg)
{
    (void)as, (void)reg, (void)val, (void)write, (void)arg;
    return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as, (void)c, (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf,
                         size_t len, unw_word_t *off, void *arg)
{
    (void)as, (void)addr, (void)buf, (void)len, (void)off, (void)arg;
    return -UNW_ENOINFO;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as, (void)addr, (void)arg;
    return -UNW_ENOINFO;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    /* libunwind frees the table-format info it made itself. */
    (void)as, (void)pi, (void)arg;
}

static struct gto_unw_table *table_of(gto_target *t, Dwfl_Module *mod)
{
    Dwarf_Addr start, end;
    dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
    uint64_t v = gto_pcmap_get(&t->tables, start ? start : 1);
    if (v)
        return (struct gto_unw_table *)(uintptr_t)v;
    struct gto_unw_table *tab = calloc(1, sizeof(*tab));
    if (!tab)
        return NULL;
    gto_pcmap_put(&t->tables, start ? start : 1, (uint64_t)(uintptr_t)tab);
    Dwarf_Addr bias;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    size_t nph;
    if (!elf || elf_getphdrnum(elf, &nph) < 0)
        return tab;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
            continue;
        Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
                                           ELF_T_BYTE);
        const uint8_t *h = d ? d->d_buf : NULL;
        /* version 1; eh_frame_ptr pcrel|sdata4; fde_count udata4; table
         * datarel|sdata4: what every linker writes, and all libunwind's
         * remote table search reads. */
        if (!h || d->d_size < 12 || h[0] != 1 || h[2] != 0x03 || h[3] != 0x3b)
            return tab;
        uint32_t count;
        memcpy(&count, h + 8, 4);
        tab->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
        tab->di.start_ip = start;
        tab->di.end_ip = end;
        tab->di.u.rti.segbase = bias + ph.p_vaddr;
        tab->di.u.rti.table_data = bias + ph.p_vaddr + 12;
        tab->di.u.rti.table_len = (unw_word_t)count * 8 / sizeof(unw_word_t);
        tab->ok = 1;
        break;
    }
    return tab;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
    struct gto_unw_thread *u = arg;
    Dwfl_Module *mod = dwfl_addrmodule(u->t->dwfl, ip);
    struct gto_unw_table *tab = mod ? table_of(u->t, mod) : NULL;
    if (!tab || !tab->ok)
        return -UNW_ENOINFO;
    return _Ux86_64_dwarf_search_unwind_table(as, ip, &tab->di, pi,
                                              need_unwind_info, arg);
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

static void drop_pages(gto_target *t)
{
    for (size_t i = 0; i < t->pages.cap; i++)
        if (t->pages.keys[i] && t->pages.vals[i] > 1)
            free((void *)(uintptr_t)t->pages.vals[i]);
    gto_pcmap_free(&t->pages);
}

int gto__unwind_init(gto_target *t, char *err)
{
    if (gto__dwfl_open(t, err) < 0)
        return -1;
    /* Pages cached by an earlier snapshot of a live process may have
     * changed since. */
    drop_pages(t);
    if (!t->unw_as) {
        unw_addr_space_t as = unw_create_addr_space(&accessors, 0);
        if (!as) {
            gto__err(err, "libunwind: cannot create an address space");
            return -1;
        }
        unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
        t->unw_as = as;
    }
    return 0;
}

void gto__unwind_fini(gto_target *t)
{
    drop_pages(t);
    for (size_t i = 0; i < t->tables.cap; i++)
        if (t->tables.keys[i])
            free((void *)(uintptr_t)t->tables.vals[i]);
    gto_pcmap_free(&t->tables);
    if (t->unw_as)
        unw_destroy_addr_space(t->unw_as);
    t->unw_as = NULL;
}

static uint64_t frame_size(uint64_t sp, uint64_t cfa)
{
    return cfa > sp && cfa - sp < (1ull << 30) ? cfa - sp : 0;
}

int gto__unwind_libunwind(struct gto_unw_thread *u, uint64_t top,
                          struct gto_frame **frames, size_t *n)
{
    *frames = NULL;
    *n = 0;
    unw_cursor_t c;
    if (unw_init_remote(&c, u->t->unw_as, u) < 0)
        return GTO_UNWIND_TRUNCATED;
    size_t cap = 16;
    struct gto_frame *f = malloc(cap * sizeof(*f));
    if (!f)
        return GTO_UNWIND_TRUNCATED;
    int status = GTO_UNWIND_TRUNCATED;
    for (size_t i = 0; i < MAX_FRAMES; i++) {
        unw_word_t ip, sp, next_sp;
        if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 ||
            unw_get_reg(&c, UNW_REG_SP, &sp) < 0)
            break;
        /* A return address of 0 is no frame: the end of a stack whose
         * thread left it (an exited thread's last switch). */
        if (i > 0 && ip == 0)
            break;
        if (*n == cap) {
            cap *= 2;
            struct gto_frame *g = realloc(f, cap * sizeof(*f));
            if (!g)
                break;
            f = g;
        }
        struct gto_frame *fr = &f[(*n)++];
        fr->pc = ip;
        int r = unw_step(&c);
        if (r > 0 && unw_get_reg(&c, UNW_REG_SP, &next_sp) == 0) {
            fr->size = frame_size(sp, next_sp);
            /* Inside the thread's own stack every caller is above its
             * callee; anything else is a loop in corrupt memory. */
            if (sp >= u->copy_lo && sp < u->copy_hi && next_sp <= sp)
                break;
            continue;
        }
        fr->size = frame_size(sp, top);
        if (r == 0)
            status = GTO_UNWIND_OK;
        break;
    }
    *frames = f;
    return status;
}
