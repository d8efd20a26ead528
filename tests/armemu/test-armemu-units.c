/*
 * test-armemu-units.c - the emulator's fault spec, buckets and form
 * decoding, without HTTP.
 */
#include "auth.h"
#include "faults.h"
#include "test.h"

#include "core/error.h"

#include <stdlib.h>

static arm_req_class get_item = { "GET", false, true, false, false, NULL };
static arm_req_class post_fo = { "POST", false, true, true, false, "unplanned-failover" };
static arm_req_class token = { "POST", true, false, false, false, NULL };

TEST(spec_errors)
{
	arm_faults f;
	arm_faults_init(&f);
	CHECK_INT(arm_faults_add(&f, "error:500:2:GET;bogus", 0), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "unknown fault 'bogus'");
	CHECK_INT(f.n, 0); /* nothing added from a bad spec */
	CHECK_INT(arm_faults_add(&f, "error:99", 0), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "bad fault 'error:99': expected error:STATUS[:COUNT[:MATCH]]");
	CHECK_INT(arm_faults_add(&f, "drop:1:nowhere", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "random:500:1.5", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "slow:-1", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "write-limit:5:0", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "write-limit:5:x", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "write-limit:5", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "token-ttl:0", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, "clear:x", 0), DR_EINVAL);
	CHECK_INT(arm_faults_add(&f, " ; ;", 0), 0);
	CHECK_INT(f.n, 0);
	arm_faults_release(&f);
}

TEST(counts_and_matches)
{
	arm_faults f;
	arm_fault_action a;
	arm_faults_init(&f);
	CHECK_INT(arm_faults_add(&f, "error:500:2:GET; drop:1:unplanned-failover;slow:30:0:op", 0), 0);
	char *d = arm_faults_describe(&f);
	CHECK_STR(d, "error:500:2:GET (2 left);drop:1:unplanned-failover (1 left);slow:30:0:op");
	free(d);
	arm_faults_pick(&f, &token, &a);
	CHECK_INT(a.status, 0);
	CHECK(!a.drop);
	arm_faults_pick(&f, &get_item, &a);
	CHECK_INT(a.status, 500);
	CHECK_STR(a.spec, "error:500:2:GET");
	arm_faults_pick(&f, &post_fo, &a);
	CHECK_INT(a.status, 0);
	CHECK(a.drop);
	CHECK_INT(a.delay_ms, 30);
	arm_faults_pick(&f, &post_fo, &a);
	CHECK(!a.drop);
	CHECK_INT(a.delay_ms, 30); /* COUNT 0: every time */
	arm_faults_pick(&f, &get_item, &a);
	CHECK_INT(a.status, 500);
	arm_faults_pick(&f, &get_item, &a);
	CHECK_INT(a.status, 0);
	d = arm_faults_describe(&f);
	CHECK_STR(d, "slow:30:0:op");
	free(d);
	CHECK_INT(arm_faults_add(&f, "clear", 0), 0);
	d = arm_faults_describe(&f);
	CHECK_STR(d, "");
	free(d);
	arm_faults_release(&f);
}

TEST(lose_accept)
{
	arm_faults f;
	arm_faults_init(&f);
	CHECK_INT(arm_faults_add(&f, "lose-accept:1:commit", 0), 0);
	CHECK(!arm_faults_take_lose(&f, &post_fo));
	arm_req_class commit = { "POST", false, true, true, false, "commit" };
	CHECK(arm_faults_take_lose(&f, &commit));
	CHECK(!arm_faults_take_lose(&f, &commit));
	CHECK_INT(arm_faults_add(&f, "lose-accept", 0), 0); /* MATCH op */
	CHECK(!arm_faults_take_lose(&f, &get_item));
	CHECK(arm_faults_take_lose(&f, &post_fo));
	arm_faults_release(&f);
}

TEST(random_is_seeded)
{
	int hits[2] = { 0, 0 };
	for (int run = 0; run < 2; run++) {
		arm_faults f;
		arm_fault_action a;
		arm_faults_init(&f);
		CHECK_INT(arm_faults_add(&f, "random:503:0.25:7", 0), 0);
		for (int i = 0; i < 1000; i++) {
			arm_faults_pick(&f, &get_item, &a);
			hits[run] += a.status == 503;
		}
		arm_faults_release(&f);
	}
	CHECK_INT(hits[0], hits[1]);
	CHECK(hits[0] > 200 && hits[0] < 300);
}

TEST(settings)
{
	arm_faults f;
	arm_faults_init(&f);
	CHECK_INT(f.token_ttl_s, 3599);
	CHECK_INT(arm_faults_add(&f, "token-ttl:5;retry-after:9;lro-retry-after:0;expire-tokens", 0), 0);
	CHECK_INT(f.token_ttl_s, 5);
	CHECK_INT(f.retry_after_s, 9);
	CHECK_INT(f.lro_retry_after_s, 0);
	CHECK_INT(f.token_epoch, 1);
	CHECK_INT(f.n, 0);
	arm_faults_release(&f);
}

TEST(bucket)
{
	arm_faults f;
	long left;
	arm_faults_init(&f);
	CHECK_INT(arm_faults_add(&f, "write-limit:2:1", 1000), 0);
	CHECK(arm_bucket_take(&f.writes, 1000, &left));
	CHECK_INT(left, 1);
	CHECK(arm_bucket_take(&f.writes, 1000, &left));
	CHECK_INT(left, 0);
	CHECK(!arm_bucket_take(&f.writes, 1500, &left));
	CHECK(arm_bucket_take(&f.writes, 2000, &left)); /* one token per second */
	CHECK(!arm_bucket_take(&f.writes, 2000, &left));
	CHECK(arm_bucket_take(&f.writes, 60000, &left));
	CHECK_INT(left, 1); /* never above the burst */
	CHECK_INT(arm_faults_add(&f, "read-limit:1:0.5", 2000), 0);
	CHECK(arm_bucket_take(&f.reads, 2000, &left));
	CHECK(!arm_bucket_take(&f.reads, 3000, &left));
	CHECK(arm_bucket_take(&f.reads, 4000, &left));
	CHECK_INT(arm_faults_add(&f, "write-limit:0:0", 0), 0);
	CHECK(arm_bucket_take(&f.writes, 0, &left));
	arm_faults_release(&f);
}

TEST(form)
{
	const char *form = "grant_type=client_credentials&scope=https%3A%2F%2Fmanagement."
			   "azure.com%2F.default&client_secret=a+b%2Bc%zz&empty=";
	char *v = arm_form_get(form, "scope");
	CHECK_STR(v, "https://management.azure.com/.default");
	free(v);
	v = arm_form_get(form, "client_secret");
	CHECK_STR(v, "a b+c%zz");
	free(v);
	v = arm_form_get(form, "empty");
	CHECK_STR(v, "");
	free(v);
	CHECK(!arm_form_get(form, "grant"));
	CHECK(!arm_form_get("", "scope"));
}

int main(void)
{
	RUN(spec_errors);
	RUN(counts_and_matches);
	RUN(lose_accept);
	RUN(random_is_seeded);
	RUN(settings);
	RUN(bucket);
	RUN(form);
	return test_summary();
}
