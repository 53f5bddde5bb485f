/* libFuzzer target for the RegisterTaskDefinition validator: input bytes are parsed as JSON (any
 * value, as the API edge would hand over) and run through tdval_register. Besides crashes, leaks
 * and undefined behaviour it checks two properties: exactly one of a document and an error comes
 * back, and a returned document registers again unchanged (what `aws ecs describe-task-definition`
 * piped back into register-task-definition relies on). It also checks that the size check's count
 * of the serialized request (tdval__json_size) is jv_dump's length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jv.h"
#include "ecs/tdval-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	struct err *e = NULL, *e2 = NULL;
	json_t *req = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	json_t *td = NULL, *again = NULL;

	if (!req)
		return 0;
	char *dumped = jv_dump(req);
	if (!dumped || tdval__json_size(req, SIZE_MAX) != strlen(dumped))
		abort();
	free(dumped);
	td = tdval_register(req, &e);
	if (!td == !e || (e && (!e->msg || e->kind == ERR_INTERNAL)))
		abort();
	if (td) {
		char *text = jv_dump(td);
		if (!text)
			abort();
		free(text);
		again = tdval_register(td, &e2);
		/* Defaults can push a document just over the size limit; nothing else may fail. */
		if (!again && !strstr(e2->msg, "Max allowed length"))
			abort();
		if (again && !json_equal(again, td))
			abort();
	}
	json_decref(again);
	json_decref(td);
	json_decref(req);
	err_free(e);
	err_free(e2);
	return 0;
}
