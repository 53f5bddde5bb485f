/* libFuzzer target for what CNI plugins print: the bytes are parsed as a result (cni_result_parse)
 * and, when they parse, every address lookup (cni_result_ip) runs on them; they are also read as a
 * plugin's error (cni_exec_error). Besides crashes, leaks and undefined behaviour it checks: a
 * refused result is an ERR_INTERNAL error; an address found is a valid address of its family with a
 * prefix in range; an error message is bounded whatever the plugin printed. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/cni.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ip(json_t *r, const char *ifname, int family)
{
	struct err *e = NULL;
	struct cni_ip ip;
	unsigned char buf[16];
	if (cni_result_ip(r, ifname, family, &ip, &e) < 0) {
		if (!e || e->kind != ERR_NOT_FOUND)
			abort();
		err_free(e);
		return;
	}
	if ((family != AF_UNSPEC && ip.family != family) || inet_pton(ip.family, ip.addr, buf) != 1 ||
	    ip.prefix > (ip.family == AF_INET ? 32u : 128u) ||
	    (ip.gateway[0] && inet_pton(ip.family, ip.gateway, buf) != 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err *e = NULL;
	json_t *r = cni_result_parse((const char *)data, size, &e);
	if (!r) {
		if (!e || e->kind != ERR_INTERNAL)
			abort();
		err_free(e);
	} else {
		const int fams[] = {AF_UNSPEC, AF_INET, AF_INET6};
		for (size_t i = 0; i < 3; i++) {
			check_ip(r, NULL, fams[i]);
			check_ip(r, "eth0", fams[i]);
		}
		json_decref(r);
	}
	e = NULL;
	if (cni_exec_error("bridge", "ADD", 1 << 8, (const char *)data, size, "stderr", &e) != -1 || !e ||
	    strlen(e->msg) > 4096)
		abort();
	err_free(e);
	return 0;
}
