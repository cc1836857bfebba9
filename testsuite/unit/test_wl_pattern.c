/* The memory workload's page pattern: intact pages pass; a flipped byte
 * anywhere, two swapped pages, a stale, a newer, a duplicated and a zeroed
 * page are each detected and located. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/pattern.h"
#include "unit.h"

#define NPAGES 64

static uint8_t *pages;
static uint64_t gens[NPAGES];

static uint8_t *page(size_t i)
{
	return pages + i * PAT_PAGE;
}

static void setup(void)
{
	pages = aligned_alloc(PAT_PAGE, NPAGES * PAT_PAGE);
	for (size_t i = 0; i < NPAGES; i++) {
		gens[i] = 1 + i % 5;	/* pages of different generations */
		pat_fill(page(i), i, gens[i]);
	}
}

static void teardown(void)
{
	free(pages);
}

static struct pat_report verify_all(void)
{
	struct pat_report r;

	pat_report_init(&r);
	for (size_t i = 0; i < NPAGES; i++)
		pat_report_check(&r, page(i), i, gens[i]);
	return r;
}

START_TEST(test_intact)
{
	struct pat_report r = verify_all();
	char text[200];

	ck_assert_uint_eq(r.checked, NPAGES);
	ck_assert_uint_eq(r.bad, 0);
	ck_assert_str_eq(pat_describe(&r, text, sizeof(text)), "all 64 pages intact");
}
END_TEST

/* Every byte position of one page, in a few pages: one bad page, the right
 * one, the right byte, and a fault kind that fits the field hit. */
START_TEST(test_flip_every_byte)
{
	const size_t which[] = { 0, 17, NPAGES - 1 };

	for (size_t w = 0; w < sizeof(which) / sizeof(which[0]); w++) {
		size_t p = which[w];

		for (size_t off = 0; off < PAT_PAGE; off++) {
			struct pat_fault_info info;
			enum pat_fault f;

			page(p)[off] ^= 0x01;
			f = pat_check(page(p), p, gens[p], &info);
			ck_assert_msg(f != PAT_OK, "page %zu byte %zu: flip not seen", p, off);
			ck_assert_uint_eq(info.offset, off);
			if (off < 8)
				ck_assert_int_eq(f, PAT_BAD_MAGIC);
			else if (off < 16)
				ck_assert_int_eq(f, PAT_WRONG_INDEX);
			else if (off < 24)
				ck_assert(f == PAT_STALE || f == PAT_NEWER);
			else
				ck_assert_int_eq(f, PAT_BODY);
			/* Now and then the whole pass: exactly this page is reported. */
			if (off % 509 == 0) {
				struct pat_report r = verify_all();

				ck_assert_uint_eq(r.bad, 1);
				ck_assert_uint_eq(r.first_index, p);
				ck_assert_uint_eq(r.first.offset, off);
			}
			page(p)[off] ^= 0x01;
		}
	}
	ck_assert_uint_eq(verify_all().bad, 0);
}
END_TEST

START_TEST(test_swap)
{
	uint8_t tmp[PAT_PAGE];
	struct pat_report r;
	char text[300];

	memcpy(tmp, page(5), PAT_PAGE);
	memcpy(page(5), page(40), PAT_PAGE);
	memcpy(page(40), tmp, PAT_PAGE);
	r = verify_all();
	ck_assert_uint_eq(r.bad, 2);
	ck_assert_uint_eq(r.first_index, 5);
	ck_assert_int_eq(r.first.fault, PAT_WRONG_INDEX);
	ck_assert_uint_eq(r.first.found_index, 40);
	pat_describe(&r, text, sizeof(text));
	ck_assert_str_eq(text, "2 of 64 pages bad; first: page 5 holds page 40 generation 1 (misplaced or duplicated)");
}
END_TEST

START_TEST(test_stale)
{
	struct pat_report r;
	char text[300];

	/* What a lost update looks like: the page kept its old content while its
	 * record moved on. */
	gens[33]++;
	r = verify_all();
	ck_assert_uint_eq(r.bad, 1);
	ck_assert_uint_eq(r.first_index, 33);
	ck_assert_int_eq(r.first.fault, PAT_STALE);
	ck_assert_uint_eq(r.first.found_gen, gens[33] - 1);
	pat_describe(&r, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "page 33 is stale: generation 4, expected 5"));
}
END_TEST

START_TEST(test_newer)
{
	struct pat_report r;

	pat_fill(page(2), 2, gens[2] + 1);
	r = verify_all();
	ck_assert_uint_eq(r.bad, 1);
	ck_assert_uint_eq(r.first_index, 2);
	ck_assert_int_eq(r.first.fault, PAT_NEWER);
}
END_TEST

START_TEST(test_duplicated)
{
	struct pat_report r;

	memcpy(page(9), page(8), PAT_PAGE);
	r = verify_all();
	ck_assert_uint_eq(r.bad, 1);
	ck_assert_uint_eq(r.first_index, 9);
	ck_assert_int_eq(r.first.fault, PAT_WRONG_INDEX);
	ck_assert_uint_eq(r.first.found_index, 8);
}
END_TEST

START_TEST(test_zeroed)
{
	struct pat_report r;
	char text[300];

	memset(page(63), 0, PAT_PAGE);
	r = verify_all();
	ck_assert_uint_eq(r.bad, 1);
	ck_assert_int_eq(r.first.fault, PAT_ZERO);
	ck_assert_ptr_nonnull(strstr(pat_describe(&r, text, sizeof(text)), "page 63 is all zeros (lost)"));
}
END_TEST

/* A stale body under a current header (half an update) is a body fault. */
START_TEST(test_stale_body)
{
	struct pat_fault_info info;

	pat_fill(page(3), 3, gens[3] + 1);
	((uint64_t *)page(3))[2] = gens[3];	/* header says current, body is newer */
	ck_assert_int_eq(pat_check(page(3), 3, gens[3], &info), PAT_BODY);
	ck_assert_uint_ge(info.offset, 24);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(pat_fault_name(PAT_OK), "ok");
	ck_assert_str_eq(pat_fault_name(PAT_BODY), "body");
	ck_assert_str_eq(pat_fault_name((enum pat_fault)99), "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wl_pattern");
	TCase *tc = tcase_create("pattern");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_intact);
	tcase_add_test(tc, test_flip_every_byte);
	tcase_add_test(tc, test_swap);
	tcase_add_test(tc, test_stale);
	tcase_add_test(tc, test_newer);
	tcase_add_test(tc, test_duplicated);
	tcase_add_test(tc, test_zeroed);
	tcase_add_test(tc, test_stale_body);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
