/* arena.c — see arena.h. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>

struct us_arena_block {
    us_arena_block *next;
    size_t cap, off;
    /* data follows, 16-byte aligned */
};

#define US_ARENA_HDR ((sizeof(us_arena_block) + 15u) & ~(size_t)15u)

static us_arena_block *block_new(size_t cap) {
    us_arena_block *b = malloc(US_ARENA_HDR + cap);
    if (!b) return NULL;
    b->next = NULL;
    b->cap = cap;
    b->off = 0;
    return b;
}

void *us_arena_alloc(us_arena *a, size_t bytes) {
    size_t need = (bytes + 15u) & ~(size_t)15u;
    if (need < bytes) return NULL; /* overflow */
    us_arena_block *b = a->head;
    if (!b || b->cap - b->off < need) {
        size_t cap = need > 65536 ? need : 65536;
        if (b && b->cap * 2 > cap) cap = b->cap * 2;
        us_arena_block *nb = block_new(cap);
        if (!nb && cap > need) nb = block_new(need);
        if (!nb) return NULL;
        nb->next = b;
        a->head = b = nb;
    }
    void *p = (uint8_t *)b + US_ARENA_HDR + b->off;
    b->off += need;
    a->used += need;
    return p;
}

void us_arena_reset(us_arena *a) {
    if (a->used > a->high_water) a->high_water = a->used;
    a->used = 0;
    us_arena_block *b = a->head;
    if (b && b->next) {
        /* Several blocks: replace them with one that fits the whole forward. */
        us_arena_free(a);
        a->head = block_new(a->high_water);
        return;
    }
    if (b) b->off = 0;
}

void us_arena_free(us_arena *a) {
    us_arena_block *b = a->head;
    while (b) {
        us_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->used = 0;
}
