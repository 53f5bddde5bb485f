/* gantry's image registry: the OCI distribution API under /v2/ (dist.c) and the ECR API (ecr.c)
 * over one set of repositories per account and region, with blobs on disk (blobs.c) and repository
 * and image metadata in the store (registry.c). */
#ifndef GANTRY_REGISTRY_H
#define GANTRY_REGISTRY_H

#include <stdbool.h>
#include <uv.h>

#include "common/err.h"
#include "common/hsrv.h"

struct reg;
struct api;
struct creds;
struct store;

/* Opens the registry: blobs under data_dir/registry, metadata loaded from store (call before
 * anything else writes to the store, as store_load requires). creds and store are borrowed.
 * Returns a new registry or NULL with *err. */
struct reg *reg_new(uv_loop_t *loop, struct store *store, struct creds *creds, const char *data_dir,
		    struct err **err);
/* Adds the ECR API (AmazonEC2ContainerRegistry_V20150921) to the front and starts the registry's
 * background work (the timers that apply lifecycle policies and collect unused blobs, see
 * lifecycle.c and gc.c). Call once every component has loaded from the store: it may write (a new
 * password-signing key). */
void reg_add_to_api(struct reg *reg, struct api *api);
/* The hsrv stream handler (arg = the registry): takes every request under /v2. */
bool reg_http(void *reg, struct hreq *req);
/* Refuses new work (503) while the server stops: answers the ECR calls still waiting for a blob
 * commit with ServiceUnavailableException and closes the background timers, so that the loop can
 * end; call it before the loop's last run (idempotent; accepts NULL). */
void reg_set_stopping(struct reg *reg);
/* Frees the registry. Accepts NULL. */
void reg_free(struct reg *reg);

#endif
