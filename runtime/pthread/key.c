/*
 * key.c - pthread_key_create/delete, pthread_getspecific/setspecific: one
 * value per key per green thread, destructors at the thread's exit.
 *
 * Keys are this library's in every thread, green or not, so that a key
 * made by a constructor before main works in the green threads after it.
 * A green thread keeps its values in its block; any other kernel thread
 * (before main, the runtime's helpers) in a __thread table of its own, and
 * main adopts the values set on its kernel thread before it started.
 * Destructors run at a green thread's exit (pthread_exit or return), up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds; not at the exit of other kernel
 * threads.
 *
 * A key's seq is odd while it exists and grows at create and at delete; a
 * value remembers the seq it was set under, so a deleted key (or one made
 * again in its slot) reads NULL in every thread without visiting them.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pthread_gt.h"

struct key {
    uint64_t seq;            /* odd: in use */
    void (*dtor)(void *);
};

static struct key keys[PTHREAD_KEYS_MAX];
/* Create and delete may come from other kernel threads than the green
 * threads' one (a library's helper thread): a spin lock orders them. */
static atomic_flag keys_lock = ATOMIC_FLAG_INIT;

static __thread struct gt__pt_specific outside;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&keys_lock, memory_order_acquire))
        ;
}
static void unlock(void) { atomic_flag_clear_explicit(&keys_lock, memory_order_release); }

/* The calling thread's values (NULL: a gt_spawn thread, which has none). */
static struct gt__pt_specific *mine(void)
{
    struct gt__pthread *b = gt__pt_self();
    if (b)
        return &b->spec;
    return gt__self() ? NULL : &outside;
}

GT__PUBLIC int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
    lock();
    for (unsigned k = 0; k < PTHREAD_KEYS_MAX; k++)
        if (!(keys[k].seq & 1)) {
            keys[k].seq++;
            keys[k].dtor = dtor;
            unlock();
            *key = k;
            return 0;
        }
    unlock();
    return EAGAIN;
}

GT__PUBLIC int pthread_key_delete(pthread_key_t key)
{
    if (key >= PTHREAD_KEYS_MAX)
        return EINVAL;
    lock();
    if (!(keys[key].seq & 1)) {
        unlock();
        return EINVAL;
    }
    keys[key].seq++;
    keys[key].dtor = NULL;
    unlock();
    return 0;
}

GT__PUBLIC void *pthread_getspecific(pthread_key_t key)
{
    struct gt__pt_specific *s = mine();
    if (!s || key >= PTHREAD_KEYS_MAX)
        return NULL;
    struct gt__pt_value *p = s->page[key / PT_KEY_PAGE];
    if (!p)
        return NULL;
    struct gt__pt_value *v = &p[key % PT_KEY_PAGE];
    return v->seq == keys[key].seq ? v->val : NULL;
}

GT__PUBLIC int pthread_setspecific(pthread_key_t key, const void *val)
{
    if (key >= PTHREAD_KEYS_MAX || !(keys[key].seq & 1))
        return EINVAL;
    struct gt__pt_specific *s = mine();
    if (!s)
        return EINVAL; /* a gt_spawn thread (README.md) */
    struct gt__pt_value **pp = &s->page[key / PT_KEY_PAGE];
    if (!*pp) {
        if (!val)
            return 0; /* NULL reads as NULL already */
        *pp = calloc(PT_KEY_PAGE, sizeof **pp);
        if (!*pp)
            return ENOMEM;
    }
    struct gt__pt_value *v = &(*pp)[key % PT_KEY_PAGE];
    v->val = (void *)val;
    v->seq = keys[key].seq;
    return 0;
}

void gt__pt_keys_exit(struct gt__pt_specific *s)
{
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        bool called = false;
        for (unsigned k = 0; k < PTHREAD_KEYS_MAX; k++) {
            struct gt__pt_value *p = s->page[k / PT_KEY_PAGE];
            if (!p) {
                k += PT_KEY_PAGE - 1; /* the whole page is empty */
                continue;
            }
            struct gt__pt_value *v = &p[k % PT_KEY_PAGE];
            void (*dtor)(void *) = keys[k].dtor;
            if (!v->val || v->seq != keys[k].seq || !dtor)
                continue;
            void *val = v->val;
            v->val = NULL; /* POSIX: NULL before the destructor runs */
            dtor(val);
            called = true;
        }
        if (!called)
            break;
    }
    for (unsigned i = 0; i < PT_KEY_PAGES; i++) {
        free(s->page[i]);
        s->page[i] = NULL;
    }
}

void gt__pt_keys_adopt(struct gt__pt_specific *to)
{
    *to = outside;
    memset(&outside, 0, sizeof outside);
}
