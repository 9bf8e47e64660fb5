/* harness.h — the tiny test harness shared by the C unit tests.
 *
 * Each test file is one executable: main() calls US_RUN(test_fn) for each test
 * and returns us_harness_summary(), which prints "N passed, N failed" and is
 * non-zero when anything failed. CHECK records a failure and carries on;
 * REQUIRE records it and returns from the current test. */
#ifndef US_TEST_HARNESS_H
#define US_TEST_HARNESS_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>

static int us_h_passed, us_h_failed, us_h_cur_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            us_h_cur_failed = 1;                                                      \
        }                                                                             \
    } while (0)

#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            us_h_cur_failed = 1;                                                        \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* |a - b| <= tol, printing both values when not. */
#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double us_a_ = (a), us_b_ = (b);                                                   \
        if (!(fabs(us_a_ - us_b_) <= (tol))) {                                             \
            fprintf(stderr, "  %s:%d: %s = %.9g, %s = %.9g, |diff| > %g\n", __FILE__, __LINE__, \
                    #a, us_a_, #b, us_b_, (double)(tol));                                 \
            us_h_cur_failed = 1;                                                           \
        }                                                                                  \
    } while (0)

#define US_RUN(fn)                                                 \
    do {                                                           \
        us_h_cur_failed = 0;                                       \
        fn();                                                      \
        if (us_h_cur_failed) {                                     \
            us_h_failed++;                                         \
            fprintf(stderr, "FAIL %s\n", #fn);                     \
        } else {                                                   \
            us_h_passed++;                                         \
            printf("ok   %s\n", #fn);                              \
        }                                                          \
    } while (0)

/* The tests' random numbers: xorshift32 mapped to [-1, 1), reproducible
 * (set rng_state to reseed). */
static uint32_t rng_state = 2463534242u;
static inline float rng_uniform(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return (float)((double)(x >> 8) / 8388608.0 - 1.0);
}

static inline int us_harness_summary(void) {
    printf("%d passed, %d failed\n", us_h_passed, us_h_failed);
    return us_h_failed ? 1 : 0;
}
#endif
