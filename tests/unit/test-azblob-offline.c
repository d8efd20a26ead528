/*
 * test-azblob-offline.c - the parts of the azblob store that need no server:
 * the Shared Key string to sign, List Blobs parsing, specs, credentials and
 * endpoints, lease lengths, DRPLAN_STATE. (tests/azblob/ runs the store
 * against Azurite.)
 */
#include "test.h"

#include "core/error.h"
#include "journal/azblob.h"
#include "journal/store.h"
#include "journal/store_azblob.h"

#include <stdlib.h>

TEST(string_to_sign_append)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_azblob_kv q[] = { { "comp", "appendblock" } };
	dr_azblob_kv h[] = { { "x-ms-blob-condition-appendpos", "5" } };
	dr_azblob_req r = { .method = "PUT", .blob = "jobs/x/journal", .query = q, .nquery = 1,
			    .headers = h, .nheaders = 1, .body = "ab", .len = 2 };

	dr_azblob_string_to_sign("acct", "/cont/jobs/x/journal", &r,
				 "Wed, 25 Nov 2026 10:00:00 GMT", "application/octet-stream", &sb);
	CHECK_STR(sb.buf, "PUT\n\n\n2\n\napplication/octet-stream\n\n\n\n\n\n\n"
			  "x-ms-blob-condition-appendpos:5\n"
			  "x-ms-date:Wed, 25 Nov 2026 10:00:00 GMT\n"
			  "x-ms-version:" DR_AZBLOB_API_VERSION "\n"
			  "/acct/cont/jobs/x/journal\ncomp:appendblock");
	dr_strbuf_release(&sb);
}

TEST(string_to_sign_conditions_and_query_order)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_azblob_kv q[] = { { "restype", "container" }, { "marker", "2!8!x" },
			     { "comp", "list" } };
	dr_azblob_req get = { .method = "GET", .query = q, .nquery = 3 };
	dr_azblob_kv h[] = { { "x-ms-lease-id", "L" }, { "x-ms-blob-type", "BlockBlob" } };
	dr_azblob_req put = { .method = "PUT", .blob = "m", .headers = h, .nheaders = 2,
			      .if_match = "\"0x1\"", .body = "", .len = 0 };
	dr_azblob_req put2 = { .method = "PUT", .blob = "m", .if_none_match = "*",
			       .body = "x", .len = 1 };

	dr_azblob_string_to_sign("devstoreaccount1", "/devstoreaccount1/c", &get, "D", "", &sb);
	/* Azurite's path-style URL: the account appears twice. Query sorted. */
	CHECK_STR(sb.buf, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\nx-ms-version:"
			  DR_AZBLOB_API_VERSION "\n/devstoreaccount1/devstoreaccount1/c\n"
			  "comp:list\nmarker:2!8!x\nrestype:container");
	/* A zero Content-Length is signed empty; headers sorted by name. */
	dr_azblob_string_to_sign("a", "/c/m", &put, "D", "application/octet-stream", &sb);
	CHECK_STR(sb.buf, "PUT\n\n\n\n\napplication/octet-stream\n\n\n\"0x1\"\n\n\n\n"
			  "x-ms-blob-type:BlockBlob\nx-ms-date:D\nx-ms-lease-id:L\n"
			  "x-ms-version:" DR_AZBLOB_API_VERSION "\n/a/c/m");
	dr_azblob_string_to_sign("a", "/c/m", &put2, "D", "application/octet-stream", &sb);
	CHECK_STR(sb.buf, "PUT\n\n\n1\n\napplication/octet-stream\n\n\n\n*\n\n\n"
			  "x-ms-date:D\nx-ms-version:" DR_AZBLOB_API_VERSION "\n/a/c/m");
	dr_strbuf_release(&sb);
}

static int collect(void *ctx, const char *name)
{
	dr_strbuf *sb = ctx;

	dr_strbuf_addf(sb, "[%s]", name);
	return 0;
}

static int stop_first(void *ctx, const char *name)
{
	collect(ctx, name);
	return 9;
}

TEST(parse_list)
{
	const char *xml =
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		"<EnumerationResults ServiceEndpoint=\"http://x/\" ContainerName=\"c\">"
		"<Prefix>p/</Prefix><MaxResults>3</MaxResults><Blobs>"
		"<Blob><Name>p/a&amp;b</Name><Properties><Content-Length>3</Content-Length>"
		"</Properties></Blob>"
		"<Blob><Name>p/&lt;x&gt;&quot;&apos;&#65;&#x42;&#xe9;</Name><Properties/></Blob>"
		"<Blob><Name Encoded=\"true\">p%2Fodd%01name</Name></Blob>"
		"<Blob><Name>p/NextMarker</Name></Blob>"
		"</Blobs><NextMarker>2!72!MDAw&amp;</NextMarker></EnumerationResults>";
	dr_strbuf got = DR_STRBUF_INIT, next = DR_STRBUF_INIT;

	CHECK_INT(dr_azblob_parse_list(xml, strlen(xml), collect, &got, &next), 0);
	CHECK_STR(got.buf, "[p/a&b][p/<x>\"'AB\xc3\xa9][p/odd\x01name][p/NextMarker]");
	CHECK_STR(next.buf, "2!72!MDAw&");
	/* The last page: empty or self-closing NextMarker. */
	dr_strbuf_reset(&got);
	const char *last = "<EnumerationResults><Blobs><Blob><Name>k</Name></Blob></Blobs>"
			   "<NextMarker /></EnumerationResults>";
	CHECK_INT(dr_azblob_parse_list(last, strlen(last), collect, &got, &next), 0);
	CHECK_STR(got.buf, "[k]");
	CHECK_INT(next.len, 0);
	const char *none = "<EnumerationResults><Blobs /><NextMarker/></EnumerationResults>";
	dr_strbuf_reset(&got);
	CHECK_INT(dr_azblob_parse_list(none, strlen(none), collect, &got, &next), 0);
	CHECK_INT(got.len, 0);
	/* The callback's non-zero return stops and is returned. */
	dr_strbuf_reset(&got);
	CHECK_INT(dr_azblob_parse_list(xml, strlen(xml), stop_first, &got, &next), 9);
	CHECK_STR(got.buf, "[p/a&b]");
	/* Malformed. */
	const char *bad[] = {
		"<html>no</html>",
		"<EnumerationResults><Blobs><Blob><Name>a&bogus;</Name></Blob></Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>a&#0;</Name></Blob></Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name Encoded=\"true\">a%zz</Name></Blob></Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Properties/></Blob></Blobs></EnumerationResults>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(dr_azblob_parse_list(bad[i], strlen(bad[i]), collect, &got, &next),
			  DR_EINVAL);
	/* Truncated anywhere: never a crash, never a name past the end. */
	for (size_t n = 0; n < strlen(xml); n++) {
		char *cut = malloc(n + 1);
		memcpy(cut, xml, n);
		cut[n] = '\0';
		dr_strbuf_reset(&got);
		(void)dr_azblob_parse_list(cut, n, collect, &got, &next);
		free(cut);
	}
	dr_strbuf_release(&got);
	dr_strbuf_release(&next);
}

TEST(spec_errors)
{
	dr_store *s = NULL;
	struct {
		const char *spec, *msg;
	} cases[] = {
		{ "azblob://", "the account name must be 3-24 lowercase letters and digits" },
		{ "azblob://Acct/c", "the account name must be" },
		{ "azblob://acct", "no container (azblob://ACCOUNT/CONTAINER[/PREFIX])" },
		{ "azblob://acct/Bad_Name", "the container name must be 3-63" },
		{ "azblob://acct/a--b", "the container name must be" },
		{ "azblob://acct/ab", "the container name must be" },
		{ "azblob://acct/cont/../x", "bad prefix" },
		{ "azblob://acct/cont/a//b", "bad prefix" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(dr_store_open(cases[i].spec, 0, &s), DR_EINVAL);
		CHECK(s == NULL);
		if (!strstr(dr_error_msg(), cases[i].msg)) {
			fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", cases[i].spec, dr_error_msg(),
				cases[i].msg);
			test_failed_checks++;
		}
	}
}

TEST(credentials)
{
	dr_azblob *c = NULL;
	dr_azblob_opts o;
	const char *secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";

	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	unsetenv("AZURE_STORAGE_KEY");
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
	unsetenv("AZURE_STORAGE_BLOB_ENDPOINT");
	memset(&o, 0, sizeof(o));
	o.connection_string = "UseDevelopmentStorage=true";
	CHECK_INT(dr_azblob_new("devstoreaccount1", "c", "S", &o, &c), 0);
	CHECK_STR(dr_azblob_auth_name(c), "shared-key");
	dr_azblob_free(c);
	o.connection_string = "UseDevelopmentStorage=true";
	CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "S: AZURE_STORAGE_CONNECTION_STRING is for account "
				  "'devstoreaccount1', not 'acct'");
	o.connection_string = "DefaultEndpointsProtocol=https;AccountName=acct;"
			      "SharedAccessSignature=sv=2021&sig=abc;EndpointSuffix=core.usgovcloudapi.net";
	CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), 0);
	CHECK_STR(dr_azblob_auth_name(c), "sas");
	dr_azblob_free(c);
	/* Environment: key, then SAS, then Entra ID. */
	o.connection_string = NULL;
	setenv("AZURE_STORAGE_KEY", secret, 1);
	setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=1&sig=2", 1);
	CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), 0);
	CHECK_STR(dr_azblob_auth_name(c), "shared-key");
	dr_azblob_free(c);
	unsetenv("AZURE_STORAGE_KEY");
	CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), 0);
	CHECK_STR(dr_azblob_auth_name(c), "sas");
	dr_azblob_free(c);
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
	CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), 0);
	CHECK_STR(dr_azblob_auth_name(c), "entra-id");
	dr_azblob_free(c);
	/* A key that is not base64 is refused without being shown. */
	setenv("AZURE_STORAGE_KEY", "sec!ret", 1);
	CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "S: the account key in AZURE_STORAGE_KEY is not base64");
	unsetenv("AZURE_STORAGE_KEY");
	/* Endpoints. */
	o.key = secret;
	const char *bad_ep[][2] = {
		{ "http://10.0.0.1:10000/x", "S: AZURE_STORAGE_BLOB_ENDPOINT: plain http is only "
					     "allowed to a loopback host; use https" },
		{ "ftp://x", "S: AZURE_STORAGE_BLOB_ENDPOINT: the blob endpoint must start with "
			     "https:// (or http:// on loopback)" },
		{ "https://x.blob.core.windows.net/?sv=1", "S: AZURE_STORAGE_BLOB_ENDPOINT: the "
			"blob endpoint must not have a query (put a SAS in AZURE_STORAGE_SAS_TOKEN)" },
		{ "https:///x", "S: AZURE_STORAGE_BLOB_ENDPOINT: the blob endpoint has no host" },
	};
	for (size_t i = 0; i < sizeof(bad_ep) / sizeof(bad_ep[0]); i++) {
		setenv("AZURE_STORAGE_BLOB_ENDPOINT", bad_ep[i][0], 1);
		CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), DR_EINVAL);
		CHECK_STR(dr_error_msg(), bad_ep[i][1]);
	}
	const char *good_ep[] = { "http://127.0.0.1:10000/devstoreaccount1", "http://localhost:1/",
				  "http://[::1]:5/a", "https://acct.blob.core.chinacloudapi.cn" };
	for (size_t i = 0; i < sizeof(good_ep) / sizeof(good_ep[0]); i++) {
		setenv("AZURE_STORAGE_BLOB_ENDPOINT", good_ep[i], 1);
		CHECK_INT(dr_azblob_new("acct", "c", "S", &o, &c), 0);
		dr_azblob_free(c);
	}
	unsetenv("AZURE_STORAGE_BLOB_ENDPOINT");
}

TEST(lease_seconds)
{
	CHECK_INT(dr_store_azblob_lease_seconds(0), 60);
	CHECK_INT(dr_store_azblob_lease_seconds(1), 15);
	CHECK_INT(dr_store_azblob_lease_seconds(15000), 15);
	CHECK_INT(dr_store_azblob_lease_seconds(15001), 16);
	CHECK_INT(dr_store_azblob_lease_seconds(45000), 45);
	CHECK_INT(dr_store_azblob_lease_seconds(60000), 60);
	CHECK_INT(dr_store_azblob_lease_seconds(3600000), 60);
}

/* $DRPLAN_LOCK_TTL, checked when the azblob store is opened, before any call. */
TEST(lock_ttl_env)
{
	static const char *badv[] = { "14", "61", "15m", "x", "-20", "15s " };
	dr_store *s = NULL;
	unsigned ms = 1;

	unsetenv("DRPLAN_LOCK_TTL");
	CHECK_INT(dr_store_lock_ttl_env(&ms), 0);
	CHECK_INT(ms, 0);
	setenv("DRPLAN_LOCK_TTL", "", 1);
	CHECK_INT(dr_store_lock_ttl_env(&ms), 0);
	CHECK_INT(ms, 0);
	setenv("DRPLAN_LOCK_TTL", "15", 1);
	CHECK_INT(dr_store_lock_ttl_env(&ms), 0);
	CHECK_INT(ms, 15000);
	setenv("DRPLAN_LOCK_TTL", "60s", 1);
	CHECK_INT(dr_store_lock_ttl_env(&ms), 0);
	CHECK_INT(ms, 60000);
	for (size_t i = 0; i < sizeof(badv) / sizeof(*badv); i++) {
		setenv("DRPLAN_LOCK_TTL", badv[i], 1);
		CHECK_INT(dr_store_lock_ttl_env(&ms), DR_EINVAL);
		CHECK_INT(dr_store_azblob_open("azblob://acct/cont", NULL, 0, &s), DR_EINVAL);
		CHECK(s == NULL);
	}
	setenv("DRPLAN_LOCK_TTL", "5", 1);
	CHECK_INT(dr_store_azblob_open("azblob://acct/cont", NULL, 0, &s), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "DRPLAN_LOCK_TTL takes a lease length of 15 to 60 "
				  "seconds (e.g. 15 or 15s), not '5'");
	unsetenv("DRPLAN_LOCK_TTL");
}

TEST(drplan_state)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	setenv("DRPLAN_STATE", "azblob://acct/cont/team", 1);
	setenv("DRPLAN_STATE_DIR", "/tmp/x", 1);
	CHECK_INT(dr_store_default_dir(".", &sb), 0);
	CHECK_STR(sb.buf, "azblob://acct/cont/team");
	setenv("DRPLAN_STATE", "", 1);
	CHECK_INT(dr_store_default_dir(".", &sb), 0);
	CHECK_STR(sb.buf, "/tmp/x");
	unsetenv("DRPLAN_STATE");
	unsetenv("DRPLAN_STATE_DIR");
	dr_strbuf_release(&sb);
}

int main(void)
{
	RUN(string_to_sign_append);
	RUN(string_to_sign_conditions_and_query_order);
	RUN(parse_list);
	RUN(spec_errors);
	RUN(credentials);
	RUN(lease_seconds);
	RUN(lock_ttl_env);
	RUN(drplan_state);
	return test_summary();
}
