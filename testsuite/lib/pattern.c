#include "pattern.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HDR_WORDS 3
#define PAGE_WORDS (PAT_PAGE / 8)
#define STEP 0x9e3779b97f4a7c15ULL

/* splitmix64's finalizer: neighbouring (index, gen) give unrelated seeds. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t body_seed(uint64_t index, uint64_t gen)
{
	return mix64(index * STEP + mix64(gen));
}

void pat_fill(void *page, uint64_t index, uint64_t gen)
{
	uint64_t *w = page, v = body_seed(index, gen);

	/* One add per word: filling 1 GiB stays well under a second. */
	for (size_t j = HDR_WORDS; j < PAGE_WORDS; j++)
		w[j] = v += STEP;
	w[0] = PAT_MAGIC;
	w[1] = index;
	w[2] = gen;
}

static size_t first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t i = 0;

	while (i < len && x[i] == y[i])
		i++;
	return i;
}

static size_t first_nonzero(const unsigned char *p)
{
	size_t i = 0;

	while (i < PAT_PAGE && !p[i])
		i++;
	return i;
}

static enum pat_fault check_header(const uint64_t *w, uint64_t index, uint64_t gen, struct pat_fault_info *info)
{
	uint64_t magic = PAT_MAGIC;

	if (w[0] != PAT_MAGIC) {
		if (first_nonzero((const unsigned char *)w) == PAT_PAGE)
			return PAT_ZERO;
		info->offset = first_diff(w, &magic, 8);
		return PAT_BAD_MAGIC;
	}
	if (w[1] != index) {
		info->offset = 8 + first_diff(&w[1], &index, 8);
		return PAT_WRONG_INDEX;
	}
	if (w[2] != gen) {
		info->offset = 16 + first_diff(&w[2], &gen, 8);
		return w[2] < gen ? PAT_STALE : PAT_NEWER;
	}
	return PAT_OK;
}

static enum pat_fault check_body(const uint64_t *w, uint64_t index, uint64_t gen, struct pat_fault_info *info)
{
	uint64_t v = body_seed(index, gen);

	for (size_t j = HDR_WORDS; j < PAGE_WORDS; j++) {
		v += STEP;
		if (w[j] != v) {
			info->offset = j * 8 + first_diff(&w[j], &v, 8);
			return PAT_BODY;
		}
	}
	return PAT_OK;
}

enum pat_fault pat_check(const void *page, uint64_t index, uint64_t gen, struct pat_fault_info *info)
{
	const uint64_t *w = page;
	struct pat_fault_info local;

	if (!info)
		info = &local;
	*info = (struct pat_fault_info){ .found_index = w[1], .found_gen = w[2] };
	info->fault = check_header(w, index, gen, info);
	if (info->fault == PAT_OK)
		info->fault = check_body(w, index, gen, info);
	return info->fault;
}

void pat_report_init(struct pat_report *r)
{
	memset(r, 0, sizeof(*r));
}

enum pat_fault pat_report_check(struct pat_report *r, const void *page, uint64_t index, uint64_t gen)
{
	struct pat_fault_info info;
	enum pat_fault f = pat_check(page, index, gen, &info);

	r->checked++;
	if (f != PAT_OK && r->bad++ == 0) {
		r->first_index = index;
		r->expected_gen = gen;
		r->first = info;
	}
	return f;
}

const char *pat_fault_name(enum pat_fault f)
{
	static const char *const names[] = {
		[PAT_OK] = "ok", [PAT_ZERO] = "zero", [PAT_BAD_MAGIC] = "bad-magic",
		[PAT_WRONG_INDEX] = "wrong-index", [PAT_STALE] = "stale", [PAT_NEWER] = "newer",
		[PAT_BODY] = "body",
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

static void describe_first(const struct pat_report *r, char *buf, size_t len)
{
	const struct pat_fault_info *i = &r->first;

	switch (i->fault) {
	case PAT_ZERO:
		snprintf(buf, len, "page %" PRIu64 " is all zeros (lost)", r->first_index);
		break;
	case PAT_BAD_MAGIC:
		snprintf(buf, len, "page %" PRIu64 " has a bad magic (byte %zu)", r->first_index, i->offset);
		break;
	case PAT_WRONG_INDEX:
		snprintf(buf, len, "page %" PRIu64 " holds page %" PRIu64 " generation %" PRIu64 " (misplaced or duplicated)",
			 r->first_index, i->found_index, i->found_gen);
		break;
	case PAT_STALE:
	case PAT_NEWER:
		snprintf(buf, len, "page %" PRIu64 " is %s: generation %" PRIu64 ", expected %" PRIu64,
			 r->first_index, i->fault == PAT_STALE ? "stale" : "newer than its record",
			 i->found_gen, r->expected_gen);
		break;
	default:
		snprintf(buf, len, "page %" PRIu64 " body differs at byte %zu", r->first_index, i->offset);
		break;
	}
}

const char *pat_describe(const struct pat_report *r, char *buf, size_t len)
{
	char first[200];

	if (!r->bad) {
		snprintf(buf, len, "all %" PRIu64 " pages intact", r->checked);
		return buf;
	}
	describe_first(r, first, sizeof(first));
	snprintf(buf, len, "%" PRIu64 " of %" PRIu64 " pages bad; first: %s", r->bad, r->checked, first);
	return buf;
}
