/* Minimal test harness: CHECK records a failure and carries on, so one run
 * reports every broken expectation; the process exit code is the verdict
 * (meson's test runner reads it; 77 = skipped).
 *
 *   TEST_MAIN_BEGIN
 *     CHECK(x == 1, "x was %d", x);
 *   TEST_MAIN_END
 */
#ifndef VL_TESTS_HARNESS_H
#define VL_TESTS_HARNESS_H

/* GCC 12.2 for AArch64 (Debian 12's cross compiler) crashes in the loop
 * vectorizer (internal compiler error in vect_transform_reduction) on the
 * tests' max-|difference| reductions at -O3; fixed in GCC 12.3. Test code
 * only: the library keeps its flags. */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12 && __GNUC_MINOR__ < 3
#pragma GCC optimize("no-tree-loop-vectorize")
#endif

#include <stdio.h>
#include <stdlib.h>

static int vl_test_failures;
static int vl_test_checks;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        vl_test_checks++;                                                        \
        if (!(cond)) {                                                           \
            vl_test_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

/* Abort this test program when a precondition fails (no point going on).
 * The condition is evaluated exactly once (it often has side effects). */
#define REQUIRE(cond, ...)                                                       \
    do {                                                                         \
        vl_test_checks++;                                                        \
        if (!(cond)) {                                                           \
            vl_test_failures++;                                                  \
            fprintf(stderr, "%s:%d: REQUIRE(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define TEST_SKIP(...)                                                           \
    do {                                                                         \
        fprintf(stderr, "SKIP: ");                                               \
        fprintf(stderr, __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                     \
        exit(77);                                                                \
    } while (0)

#define TEST_MAIN_BEGIN int main(int argc, char **argv) { (void)argc; (void)argv;
#define TEST_MAIN_END                                                            \
    fprintf(stderr, "%d checks, %d failed\n", vl_test_checks, vl_test_failures);   \
    return vl_test_failures ? 1 : 0; }

#endif
