/* arena.h — a bump allocator for activations.
 *
 * A forward allocates every intermediate tensor from the model's arena and
 * frees nothing; the next forward resets it. Pointers stay valid until the
 * reset, because the arena grows by adding blocks rather than reallocating.
 * After a reset the blocks are merged into one block as large as the previous
 * forward needed, so a steady-state forward calls malloc at most once. */
#ifndef US_ARENA_H
#define US_ARENA_H
#include <stddef.h>

typedef struct us_arena_block us_arena_block;

typedef struct us_arena {
    us_arena_block *head; /* owned list, newest first */
    size_t high_water;    /* bytes used by the largest forward so far */
    size_t used;          /* bytes handed out since the last reset */
} us_arena;

/* 16-byte aligned, uninitialised memory that lives until us_arena_reset or
 * us_arena_free; NULL when out of memory. */
void *us_arena_alloc(us_arena *a, size_t bytes);
void us_arena_reset(us_arena *a);
void us_arena_free(us_arena *a);
#endif
