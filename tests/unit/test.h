/*
 * test.h - a minimal unit-test harness.
 *
 * Each tests/unit/test-*.c file is one ctest executable. Write
 *
 *     TEST(name) { CHECK(x == 1); CHECK_STR(s, "abc"); }
 *     ...
 *     int main(void) { RUN(name); ...; return test_summary(); }
 *
 * A failed CHECK prints file:line and the expression, marks the test failed
 * and goes on; test_summary() prints "N passed, N failed" and returns the
 * exit status.
 */
#ifndef DR_TEST_H
#define DR_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failed_checks;
static int test_passed, test_failed;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			test_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long test_a_ = (long long)(a), test_b_ = (long long)(b);  \
		if (test_a_ != test_b_) {                                      \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",  \
				__FILE__, __LINE__, #a, test_a_, test_b_);     \
			test_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *test_a_ = (a), *test_b_ = (b);                     \
		if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_)) {        \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a,                        \
				test_a_ ? test_a_ : "(null)",                  \
				test_b_ ? test_b_ : "(null)");                 \
			test_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define RUN(name)                                                              \
	do {                                                                   \
		int test_before_ = test_failed_checks;                         \
		test_##name();                                                 \
		if (test_failed_checks == test_before_) {                      \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "FAIL %s\n", #name);                   \
		}                                                              \
	} while (0)

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
