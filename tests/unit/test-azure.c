/*
 * test-azure.c - the azure provider's parts that need no server: options,
 * endpoint rules, the client-assertion JWT (checked with OpenSSL against
 * the certificate), the PATCH body. The wire behaviour is tested against
 * the ARM emulator in tests/azure/.
 */
#include "test.h"

#include "core/alloc.h"
#include "core/error.h"
#include "exec/loop.h"
#include "provider/azauth.h"
#include "provider/azure.h"
#include "provider/provider.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_pem[256], g_cert[256];

static void clear_env(void)
{
	unsetenv("AZURE_TENANT_ID");
	unsetenv("AZURE_CLIENT_ID");
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	unsetenv("DRPLAN_ARM_ENDPOINT");
	unsetenv("AZURE_RESOURCE_MANAGER_ENDPOINT");
	unsetenv("AZURE_AUTHORITY_HOST");
	unsetenv("DRPLAN_IMDS_ENDPOINT");
}

static int open_with(const char *json, dr_provider **p, dr_loop *l)
{
	json_t *o = json_loads(json, 0, NULL);
	int rc = dr_provider_open("azure", o, l, p);

	json_decref(o);
	return rc;
}

TEST(options_and_endpoints)
{
	dr_loop *l;
	dr_provider *p = NULL;
	dr_azure *az;

	clear_env();
	dr_loop_new(NULL, &l);
	CHECK_INT(open_with("{\"vault\":\"v\"}", &p, l), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "azure provider: subscription, resourceGroup and vault "
				  "are required (target.subscription, target.resourceGroup, "
				  "target.vault)");
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\","
			    "\"color\":1}", &p, l), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "azure provider: unknown option 'color'");
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\","
			    "\"pollMs\":\"fast\"}", &p, l), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "azure provider: option 'pollMs' must be a non-negative "
				  "integer");
	/* Tokens never go to a plain-http host other than loopback. */
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\","
			    "\"armEndpoint\":\"http://arm.example.com\"}", &p, l), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "azure provider: the ARM endpoint must be https:// (plain "
				  "http only on loopback), got 'http://arm.example.com'");
	setenv("AZURE_AUTHORITY_HOST", "http://login.example.com", 1);
	setenv("AZURE_TENANT_ID", "t", 1);
	setenv("AZURE_CLIENT_ID", "c", 1);
	setenv("AZURE_CLIENT_SECRET", "hunter2", 1);
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\"}",
			    &p, l), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "azure provider: AZURE_AUTHORITY_HOST must be an https:// "
				  "URL (plain http only on loopback)");
	unsetenv("AZURE_AUTHORITY_HOST");
	/* A secret without the tenant is a configuration error, not IMDS. */
	unsetenv("AZURE_TENANT_ID");
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\"}",
			    &p, l), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "azure provider: Azure credentials: AZURE_TENANT_ID and "
				  "AZURE_CLIENT_ID must be set with AZURE_CLIENT_SECRET");
	setenv("AZURE_TENANT_ID", "t", 1);
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\"}",
			    &p, l), 0);
	az = dr_provider_azure(p);
	CHECK(az != NULL);
	CHECK_STR(dr_provider_name(p), "azure");
	CHECK_STR(dr_azure_credential_kind(az), "client-secret");
	CHECK_INT(dr_azure_token_fetches(az), 0);
	dr_provider_free(p);
	/* Nothing configured: managed identity (nothing is contacted here). */
	clear_env();
	CHECK_INT(open_with("{\"subscription\":\"s\",\"resourceGroup\":\"rg\",\"vault\":\"v\"}",
			    &p, l), 0);
	CHECK_STR(dr_azure_credential_kind(dr_provider_azure(p)), "managed-identity");
	dr_provider_free(p);
	CHECK(dr_provider_azure(NULL) == NULL);
	dr_loop_free(l);
}

static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
	char *t = dr_xmalloc(n + 4);
	size_t i, m = n;
	unsigned char *out = dr_xmalloc(n + 4);
	int len;

	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (m % 4)
		t[m++] = '=';
	t[m] = '\0';
	len = EVP_DecodeBlock(out, (unsigned char *)t, (int)m);
	free(t);
	if (len < 0) {
		free(out);
		return NULL;
	}
	*out_len = (size_t)len - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
	out[*out_len] = '\0';
	return out;
}

TEST(client_assertion_jwt)
{
	char *jwt = NULL, *d1, *d2, *x5t;
	unsigned char *hdr, *pl, *sig, sha1[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
	size_t hl, pll, sl;
	unsigned int n1, n256;
	json_t *h, *p;
	FILE *f;
	X509 *cert;
	EVP_PKEY *key;
	EVP_MD_CTX *md;

	if (!*g_pem) {
		printf("SKIP client_assertion_jwt: openssl could not make a key pair\n");
		return;
	}
	CHECK_INT(dr_azauth_cert_assertion(g_pem, "app-id",
					   "https://login.example/t/oauth2/v2.0/token",
					   1700000000, &jwt), 0);
	if (!jwt)
		return;
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	CHECK(d1 && d2);
	if (!d1 || !d2)
		return;
	hdr = b64url_decode(jwt, (size_t)(d1 - jwt), &hl);
	pl = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &pll);
	sig = b64url_decode(d2 + 1, strlen(d2 + 1), &sl);
	h = json_loadb((char *)hdr, hl, 0, NULL);
	p = json_loadb((char *)pl, pll, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(h, "alg")), "RS256");
	CHECK_STR(json_string_value(json_object_get(h, "typ")), "JWT");
	CHECK_STR(json_string_value(json_object_get(p, "aud")),
		  "https://login.example/t/oauth2/v2.0/token");
	CHECK_STR(json_string_value(json_object_get(p, "iss")), "app-id");
	CHECK_STR(json_string_value(json_object_get(p, "sub")), "app-id");
	CHECK_INT(json_integer_value(json_object_get(p, "nbf")), 1700000000);
	CHECK_INT(json_integer_value(json_object_get(p, "exp")), 1700000600);
	CHECK_INT(strlen(json_string_value(json_object_get(p, "jti"))), 36);
	/* Thumbprints of the certificate, and the signature with its key. */
	f = fopen(g_cert, "r");
	cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(cert != NULL);
	if (cert) {
		X509_digest(cert, EVP_sha1(), sha1, &n1);
		X509_digest(cert, EVP_sha256(), sha256, &n256);
		x5t = dr_azauth_b64url(sha1, n1);
		CHECK_STR(json_string_value(json_object_get(h, "x5t")), x5t);
		free(x5t);
		x5t = dr_azauth_b64url(sha256, n256);
		CHECK_STR(json_string_value(json_object_get(h, "x5t#S256")), x5t);
		free(x5t);
		key = X509_get_pubkey(cert);
		md = EVP_MD_CTX_new();
		CHECK_INT(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
		CHECK_INT(EVP_DigestVerify(md, sig, sl, (unsigned char *)jwt,
					   (size_t)(d2 - jwt)), 1);
		EVP_MD_CTX_free(md);
		EVP_PKEY_free(key);
		X509_free(cert);
	}
	json_decref(h);
	json_decref(p);
	free(hdr);
	free(pl);
	free(sig);
	free(jwt);
	/* A missing file names itself; no key material in messages. */
	CHECK_INT(dr_azauth_cert_assertion("/nonexistent/c.pem", "a", "b", 1, &jwt), DR_EIO);
	CHECK_STR(dr_error_msg(), "client certificate '/nonexistent/c.pem': No such file "
				  "or directory");
}

TEST(b64url)
{
	char *s = dr_azauth_b64url((const unsigned char *)"\xfb\xff\xfe", 3);

	CHECK_STR(s, "-__-");
	free(s);
	s = dr_azauth_b64url((const unsigned char *)"ab", 2);
	CHECK_STR(s, "YWI");
	free(s);
}

TEST(update_body)
{
	dr_loop *l;
	dr_provider *p = NULL;
	dr_machine m;
	dr_target_nic nics[2];
	json_t *item, *b;
	char *text;

	clear_env();
	dr_loop_new(NULL, &l);
	CHECK_INT(open_with("{\"subscription\":\"sub-1\",\"resourceGroup\":\"rg\","
			    "\"vault\":\"v\"}", &p, l), 0);
	memset(&m, 0, sizeof(m));
	memset(nics, 0, sizeof(nics));
	m.name.v = "sql01";
	m.target.size.v = "Standard_E8s_v5";
	m.target.resource_group.v = "rg-erp-dr";
	m.target.availability_set.v = "as-sql";
	m.target.vnet.v = "vnet-dr";
	m.target.subnet.v = "data";
	m.target.ip.v = "10.20.1.10";
	nics[1].name.v = "sql01-nic1";
	nics[1].ip.v = "10.20.2.10";
	nics[1].subnet.v = "backup";
	m.target.nics = nics;
	m.target.nnics = 2;
	item = json_loads("{\"properties\":{\"providerSpecificDetails\":{\"instanceType\":"
			  "\"InMageRcm\",\"vmNics\":[{\"nicId\":\"n0\"},{\"nicId\":\"n1\"}]}}}",
			  0, NULL);
	b = dr_azure_update_body(dr_provider_azure(p), NULL, &m, item);
	text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(text,
		  "{\"properties\":{\"providerSpecificDetails\":{\"instanceType\":\"InMageRcm\","
		  "\"targetAvailabilitySetId\":\"/subscriptions/sub-1/resourceGroups/rg-erp-dr/"
		  "providers/Microsoft.Compute/availabilitySets/as-sql\","
		  "\"targetNetworkId\":\"/subscriptions/sub-1/resourceGroups/rg-erp-dr/"
		  "providers/Microsoft.Network/virtualNetworks/vnet-dr\","
		  "\"targetResourceGroupId\":\"/subscriptions/sub-1/resourceGroups/rg-erp-dr\","
		  "\"targetVmName\":\"sql01\",\"targetVmSize\":\"Standard_E8s_v5\","
		  "\"vmNics\":[{\"isPrimaryNic\":\"true\",\"isSelectedForFailover\":\"true\","
		  "\"nicId\":\"n0\",\"targetStaticIPAddress\":\"10.20.1.10\","
		  "\"targetSubnetName\":\"data\"},{\"isPrimaryNic\":\"false\","
		  "\"isSelectedForFailover\":\"true\",\"nicId\":\"n1\",\"targetNicName\":"
		  "\"sql01-nic1\",\"targetStaticIPAddress\":\"10.20.2.10\","
		  "\"targetSubnetName\":\"backup\"}]}}}");
	free(text);
	json_decref(b);
	json_decref(item);
	dr_provider_free(p);
	dr_loop_free(l);
}

TEST(inventory_doc)
{
	json_t *items = json_loads("[{\"name\":\"g1\",\"id\":\"/x/g1\",\"properties\":"
				   "{\"friendlyName\":\"vm01\",\"protectionState\":null,"
				   "\"providerSpecificDetails\":{\"instanceType\":\"InMageRcm\","
				   "\"targetAvailabilitySetId\":null}}}]", 0, NULL);
	json_t *doc = dr_azure_inventory_doc(items, "vault-dr", 0, NULL);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);

	CHECK_STR(text, "{\"apiVersion\":\"drplan/v1\",\"kind\":\"Inventory\","
			"\"exportedAt\":\"1970-01-01T00:00:00Z\",\"vault\":\"vault-dr\","
			"\"items\":[{\"name\":\"g1\",\"id\":\"/x/g1\",\"properties\":"
			"{\"friendlyName\":\"vm01\",\"providerSpecificDetails\":"
			"{\"instanceType\":\"InMageRcm\"}}}]}");
	CHECK_INT(dr_azure_inventory_check(doc), 0);
	free(text);
	json_decref(doc);
	json_decref(items);
}

int main(void)
{
	char dir[] = "/tmp/drplan-azure-XXXXXX", cmd[1024];

	if (mkdtemp(dir)) {
		snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", dir);
		snprintf(g_pem, sizeof(g_pem), "%s/client.pem", dir);
		snprintf(cmd, sizeof(cmd),
			 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s "
			 "-days 1 -subj /CN=drplan-test >/dev/null 2>&1 && cat %s/key.pem %s > %s",
			 dir, g_cert, dir, g_cert, g_pem);
		if (system(cmd) != 0)
			g_pem[0] = '\0';
	}
	RUN(options_and_endpoints);
	RUN(client_assertion_jwt);
	RUN(b64url);
	RUN(update_body);
	RUN(inventory_doc);
	clear_env();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_summary();
}
