/* Blob garbage collection: a blob stays on disk while some repository links it, and a repository
 * keeps a link while one of its images refers to the blob or the link is younger than a grace
 * period (a push uploads its blobs before the manifest that refers to them). Runs on a timer: the
 * repositories are walked on the loop, the disk is scanned on the thread pool, and each removal is
 * re-checked on the loop, so that a blob linked or stored again meanwhile is kept. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/reg-int.h"

#define GC_INTERVAL_S 600   /* how often a pass runs */
#define GC_GRACE_S    3600  /* an unreferenced link, or an unlinked blob, younger than this stays */
#define GC_REMOVE_MAX 10000 /* removals per pass (each is an unlink on the loop) */

static double env_seconds(const char *name, double dflt)
{
	const char *v = getenv(name);
	char *end;
	double d = v && *v ? strtod(v, &end) : -1;
	return v && *v && *end == '\0' && d >= 0 ? d : dflt;
}

void reg__blob_link(struct reg_repo *r, const char *digest, long long size)
{
	json_object_set_new(r->blobs, digest, json_integer(size));
	json_object_set_new(r->linked, digest, json_real(clock_now()));
}

/* Adds the blobs r's images refer to (configs and layers) to used. */
static void referenced(struct reg_repo *r, struct hmap *used)
{
	const char *digest;
	json_t *rec;
	json_object_foreach (r->images, digest, rec) {
		const char *text = json_string_value(json_object_get(rec, "imageManifest"));
		const char *mt = json_string_value(json_object_get(rec, "imageManifestMediaType"));
		struct err *e = NULL;
		struct reg_manifest *m = text ? reg_manifest_parse(text, strlen(text), mt, &e) : NULL;
		if (!m) {
			/* Stored manifests were checked when pushed; one that no longer parses keeps
			 * every blob of its repository rather than losing one it needs. */
			log_warn("registry gc: %s@%s: %s; keeping the repository's blobs", r->name, digest,
				 e ? e->msg : "no manifest");
			err_free(e);
			const char *b;
			json_t *v;
			json_object_foreach (r->blobs, b, v)
				hmap_put(used, b, (void *)1);
			continue;
		}
		if (m->has_config)
			hmap_put(used, m->config.digest, (void *)1);
		if (m->kind == REG_KIND_OCI_MANIFEST || m->kind == REG_KIND_DOCKER_MANIFEST)
			for (size_t i = 0; i < m->nitems; i++)
				hmap_put(used, m->items[i].digest, (void *)1);
		reg_manifest_free(m);
	}
}

static void add_links(void *arg, struct reg_repo *r)
{
	const char *d;
	json_t *size;
	json_object_foreach (r->blobs, d, size)
		hmap_put(arg, d, (void *)1);
}

/* Every blob some repository links. */
static struct hmap *linked_blobs(struct reg *reg)
{
	struct hmap *live = hmap_new();
	reg__each_repo(reg, add_links, live);
	return live;
}

struct prune {
	struct reg *reg;
	double now;
	size_t dropped;
};

/* Drops r's links that no image refers to and that are older than the grace period (the
 * repository is saved when there are any). */
static void prune_links(void *arg, struct reg_repo *r)
{
	struct prune *p = arg;
	struct reg *reg = p->reg;
	double now = p->now;
	struct hmap *used = hmap_new();
	referenced(r, used);
	size_t dropped = 0;
	const char *d;
	json_t *size, *tmp;
	json_object_foreach_safe (r->blobs, tmp, d, size) {
		json_t *at = json_object_get(r->linked, d);
		double linked = at ? json_number_value(at) : reg->started;
		if (hmap_get(used, d) || now - linked < reg->gc_grace_s)
			continue;
		json_object_del(r->linked, d);
		json_object_del(r->blobs, d);
		dropped++;
	}
	hmap_free(used);
	if (dropped)
		reg__repo_save(reg, r);
	p->dropped += dropped;
}

static void on_scanned(void *arg, json_t *found)
{
	struct reg *reg = arg;
	reg->gc_running = false;
	if (!found || reg->stopping) {
		json_decref(found);
		return;
	}
	struct hmap *live = linked_blobs(reg);
	size_t n = 0;
	long long bytes = 0;
	size_t i;
	json_t *v;
	json_array_foreach (found, i, v) {
		if (n == GC_REMOVE_MAX)
			break;
		const char *digest = json_string_value(v);
		if (hmap_get(live, digest))
			continue; /* linked again since the scan began */
		struct err *e = NULL;
		long long freed = blobs_remove(reg->blobs, digest, &e);
		if (freed < 0) {
			log_warn("registry gc: %s", e->msg);
			err_free(e);
			continue;
		}
		n++;
		bytes += freed;
	}
	if (n)
		log_info("registry gc: removed %zu blobs (%lld bytes) no repository refers to", n, bytes);
	hmap_free(live);
	json_decref(found);
}

void reg__gc_run(struct reg *reg)
{
	if (reg->gc_running || reg->stopping)
		return;
	struct prune p = {reg, clock_now(), 0};
	reg__each_repo(reg, prune_links, &p);
	if (p.dropped)
		log_info("registry gc: dropped %zu blob links no image refers to", p.dropped);
	/* The links are saved before any blob goes: a crash in between leaves blobs nothing links,
	 * which the next pass removes, never a link to a missing blob. */
	reg->gc_running = true;
	blobs_scan(reg->blobs, linked_blobs(reg), reg->gc_grace_s, on_scanned, reg);
}

static void on_gc_timer(uv_timer_t *t)
{
	reg__gc_run(t->data);
}

void reg__gc_start(struct reg *reg)
{
	reg->gc_grace_s = env_seconds("GANTRY_REGISTRY_GC_GRACE_S", GC_GRACE_S);
	double every = env_seconds("GANTRY_REGISTRY_GC_INTERVAL_S", GC_INTERVAL_S);
	uint64_t ms = every * 1000 < 1 ? 1 : (uint64_t)(every * 1000);
	uv_timer_init(reg->loop, &reg->gc_timer);
	reg->gc_timer.data = reg;
	uv_timer_start(&reg->gc_timer, on_gc_timer, ms, ms);
	reg->gc_timer_on = true;
}

void reg__gc_stop(struct reg *reg)
{
	if (!reg->gc_timer_on)
		return;
	reg->gc_timer_on = false;
	uv_timer_stop(&reg->gc_timer);
	uv_close((uv_handle_t *)&reg->gc_timer, NULL);
}
