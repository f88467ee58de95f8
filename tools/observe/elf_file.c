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

/* Finds the first note NAME (with its NUL) of TYPE in the program's
 * PT_NOTE segments: its descriptor's bytes, size and load address.  Found
 * through the program headers, so section headers may be gone. */
static int find_note(Elf *elf, const char *name, uint32_t type,
                     const char **desc, size_t *size, uint64_t *vaddr)
{
    size_t nph, namesz = strlen(name) + 1;
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
            if (nh.n_type == type && nh.n_namesz == namesz &&
                memcmp(nm, name, namesz) == 0) {
                *desc = (const char *)data->d_buf + desc_off;
                *size = nh.n_descsz;
                *vaddr = ph.p_vaddr + desc_off;
                return 0;
            }
        }
    }
    return -1;
}

/* The note "gt" type 1 holds the registry's address relative to the
 * note's descriptor (see runtime/src/registry.c). */
int gto__elf_registry_note(Elf *elf, uint64_t *value)
{
    const char *desc;
    size_t size;
    uint64_t at;
    int64_t rel;
    if (find_note(elf, "gt", 1, &desc, &size, &at) < 0 || size != 8)
        return -1;
    memcpy(&rel, desc, 8);
    *value = at + (uint64_t)rel;
    return 0;
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
    const char *desc;
    size_t size;
    uint64_t at;
    if (find_note(elf, "GNU", NT_GNU_BUILD_ID, &desc, &size, &at) < 0 || size > max)
        return -1;
    memcpy(id, desc, size);
    if (vaddr)
        *vaddr = at;
    return (int)size;
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
