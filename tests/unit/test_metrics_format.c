/* Unit tests for src/daemon/metrics_format.c: the Prometheus exposition
 * text made from a status document; checked with promtool when it is
 * installed (scripts/deps.sh installs it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/metrics.h"

static json_t *status_doc(void)
{
	json_error_t err;
	json_t *st = json_loads(
		"{\"version\": \"0.1.0\", \"active\": true, \"endpoint_id\": \"ab\","
		" \"networks\": ["
		"  {\"name\": \"home\", \"peers\": ["
		"    {\"hostname\": \"bob\", \"online\": true, \"path\": \"direct\", \"rtt_ms\": 1.5,"
		"     \"tx_bytes\": 1000, \"rx_bytes\": 2000, \"tx_packets\": 10, \"rx_packets\": 20},"
		"    {\"hostname\": \"odd\\\"na\\\\me\", \"online\": false, \"path\": \"none\","
		"     \"rtt_ms\": null, \"tx_bytes\": 0, \"rx_bytes\": 0}]},"
		"  {\"name\": \"work\", \"peers\": ["
		"    {\"hostname\": \"carol\", \"online\": true, \"path\": \"relay\", \"rtt_ms\": 20,"
		"     \"tx_bytes\": 5, \"rx_bytes\": 6}]}],"
		" \"pending\": {\"join_requests\": 2, \"file_offers\": 0},"
		" \"address_clashes\": 0,"
		" \"dataplane\": {\"tx_packets\": 7, \"drops\": {\"firewall\": 3, \"no_route\": 1, \"not_for_us\": 1},"
		"                 \"conntrack\": null, \"offload\": {\"enabled\": true}},"
		" \"gate\": {\"strangers\": 4}, \"relay\": {\"forwarded\": 9}}",
		0, &err);

	assert_non_null(st);
	return st;
}

static void test_content(void **state)
{
	struct metrics_extra x = {
		.dht_connected = true, .dht_puts = 3, .joins_ok = 2, .scrapes = 9
	};
	json_t *st = status_doc();
	char *page = metrics_format(st, &x, "abc123");

	(void)state;
	assert_non_null(page);
	assert_non_null(strstr(page, "rayfish_build_info{version=\"0.1.0\",git=\"abc123\"} 1\n"));
	assert_non_null(strstr(page, "rayfish_active 1\n"));
	assert_non_null(strstr(page, "rayfish_networks 2\n"));
	assert_non_null(strstr(page, "rayfish_peers{path=\"direct\"} 1\n"));
	assert_non_null(strstr(page, "rayfish_peers{path=\"relay\"} 1\n"));
	assert_non_null(strstr(page, "rayfish_peers{path=\"none\"} 1\n"));
	assert_non_null(
		strstr(page, "rayfish_peer_rtt_seconds{network=\"home\",peer=\"bob\"} 0.0015"));
	assert_non_null(
		strstr(page, "rayfish_peer_tx_bytes_total{network=\"home\",peer=\"bob\"} 1000\n"));
	assert_non_null(
		strstr(page, "rayfish_peer_rx_bytes_total{network=\"work\",peer=\"carol\"} 6\n"));
	/* escaped label values; a peer without an RTT has no RTT sample */
	assert_non_null(strstr(page, "peer=\"odd\\\"na\\\\me\"} 0\n"));
	assert_null(strstr(page, "rayfish_peer_rtt_seconds{network=\"home\",peer=\"odd"));
	assert_non_null(strstr(page, "rayfish_pending{kind=\"join_requests\"} 2\n"));
	assert_non_null(strstr(page, "rayfish_dataplane_drops_firewall 3\n"));
	assert_non_null(strstr(page, "rayfish_dataplane_offload_enabled 1\n"));
	assert_non_null(strstr(page, "rayfish_gate_strangers 4\n"));
	assert_non_null(strstr(page, "rayfish_relay_forwarded 9\n"));
	assert_non_null(
		strstr(page, "rayfish_peer_rx_packets_total{network=\"home\",peer=\"bob\"} 20\n"));
	assert_non_null(strstr(page, "rayfish_dht_connected 1\n"));
	assert_non_null(strstr(page, "rayfish_joins_total{outcome=\"joined\"} 2\n"));
	assert_null(strstr(page, "conntrack")); /* null sections are left out */
	free(page);
	json_decref(st);
}

/* promtool, when installed, accepts the page. */
static void test_promtool(void **state)
{
	struct metrics_extra x = { 0 };
	json_t *st = status_doc();
	char *page = metrics_format(st, &x, "abc123");
	FILE *p;

	(void)state;
	assert_non_null(page);
	if (access("/usr/bin/promtool", X_OK) != 0) {
		free(page);
		json_decref(st);
		skip();
	}
	p = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
	assert_non_null(p);
	fputs(page, p);
	assert_int_equal(pclose(p), 0);
	free(page);
	json_decref(st);
}

static void test_empty_status(void **state)
{
	struct metrics_extra x = { 0 };
	json_t *st = json_object();
	char *page = metrics_format(st, &x, "");

	(void)state;
	assert_non_null(page);
	assert_non_null(strstr(page, "rayfish_networks 0\n"));
	assert_non_null(strstr(page, "rayfish_peers{path=\"direct\"} 0\n"));
	free(page);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_promtool),
		cmocka_unit_test(test_empty_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
