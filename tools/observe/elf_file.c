/*
 * elf_file.c - what libgtobserve asks of an ELF file: a symbol's value,
 * the registry's note, the first loaded address (for the load bias) and
 * the GNU build-id.  libelf only; no DWARF is needed for any of it.
 */
#include <string.h>

#include "internal.h"

/* Looks NAME up in one symbol table section (.dynsym or .symtab). */
static int symbol_in(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
                     const char *name, uint64_t *value)
{
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || !sh->sh_entsize)
        return -1;
    size_t n = sh->sh_size / sh->sh_entsize;
    for (size_t i = 0; i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
            continue;
        const char *s = elf_strptr(elf, sh->sh_link, sym.st_name);
        if (s && strcmp(s, name) == 0) {
            *value = sym.st_value;
            return 0;
        }
    }
    return -1;
}

/* .dynsym first: it survives strip, and a stripped program is the common
 * case in production. */
int gto__elf_symbol(Elf *elf, const char *name, uint64_t *value)
{
    static const unsigned kinds[] = {SHT_DYNSYM, SHT_SYMTAB};
    for (size_t k = 0; k < 2; k++) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            if (gelf_getshdr(scn, &sh) && sh.sh_type == kinds[k] &&
                symbol_in(elf, scn, &sh, name, value) == 0)
                return 0;
        }
    }
    return -1;
}

/* The note "gt" type 1 holds the registry's address relative to the
 * note's descriptor (see runtime/src/registry.c): found through the
 * program headers, so section headers may be gone too. */
int gto__elf_registry_note(Elf *elf, uint64_t *value)
{
    size_t nph;
    if (elf_getphdrnum(elf, &nph) < 0)
        return -1;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
            continue;
        Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset,
                                              ph.p_filesz, ELF_T_NHDR);
        if (!data)
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name_off, desc_off;
        while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
            const char *nm = (const char *)data->d_buf + name_off;
            if (nh.n_type == 1 && nh.n_namesz == 3 && memcmp(nm, "gt", 3) == 0 &&
                nh.n_descsz == 8) {
                int64_t rel;
                memcpy(&rel, (const char *)data->d_buf + desc_off, 8);
                *value = ph.p_vaddr + desc_off + (uint64_t)rel;
                return 0;
            }
        }
    }
    return -1;
}

uint64_t gto__elf_first_vaddr(Elf *elf)
{
    size_t nph;
    if (elf_getphdrnum(elf, &nph) < 0)
        return 0;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
            return ph.p_vaddr - ph.p_offset;
    }
    return 0;
}

/* The NT_GNU_BUILD_ID note: its bytes, and where the note's descriptor
 * is loaded (so the copy in a core's memory can be compared). */
int gto__elf_build_id(Elf *elf, uint8_t *id, size_t max, uint64_t *vaddr)
{
    size_t nph;
    if (elf_getphdrnum(elf, &nph) < 0)
        return -1;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
            continue;
        Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset,
                                              ph.p_filesz, ELF_T_NHDR);
        if (!data)
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name_off, desc_off;
        while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
            const char *nm = (const char *)data->d_buf + name_off;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                memcmp(nm, "GNU", 4) == 0 && nh.n_descsz <= max) {
                memcpy(id, (const char *)data->d_buf + desc_off, nh.n_descsz);
                if (vaddr)
                    *vaddr = ph.p_vaddr + desc_off;
                return (int)nh.n_descsz;
            }
        }
    }
    return -1;
}

const char *gto__machine_name(unsigned machine)
{
    switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "AArch64";
    case EM_386: return "i386";
    case EM_ARM: return "ARM";
    case EM_RISCV: return "RISC-V";
    case EM_PPC64: return "PowerPC64";
    case EM_S390: return "s390";
    default: return "an unknown machine";
    }
}
