/* gantry image import: builds an OCI image from a root filesystem (registry/imgbuild) and pushes it
 * to a repository of gantry's registry (ECR password through awsc, /v2/ through regclient). */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api/awsc.h"
#include "cmd/cmd.h"
#include "common/enc.h"
#include "common/err.h"
#include "common/hcli.h"
#include "common/xalloc.h"
#include "registry/imgbuild.h"
#include "registry/ref.h"
#include "registry/regclient.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:7700"
#define DEFAULT_REGION	 "us-east-1"
#define API_TIMEOUT_MS	 (30L * 1000)
#define ECR_TARGET	 "AmazonEC2ContainerRegistry_V20150921."

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gantry image import [options] SOURCE [REPOSITORY[:TAG]]\n"
		"Builds an OCI image from SOURCE, a root filesystem directory or a tar file (.tar, .tar.gz,\n"
		"bzip2, xz or zstd), and pushes it to REPOSITORY (TAG: latest) in the registry at the "
		"endpoint\n"
		"(REPOSITORY may also be written HOST:PORT/NAME with the endpoint's HOST:PORT). Prints the\n"
		"pushed reference with its digest. The same SOURCE and options give the same digest.\n"
		"  --cmd CMD                config.Cmd: a JSON array ('[\"httpd\",\"-f\"]', exec form) or a\n"
		"                           command line run by /bin/sh -c (shell form, as in a Dockerfile)\n"
		"  --entrypoint CMD         config.Entrypoint, read like --cmd\n"
		"  --env NAME=VALUE         an environment variable (repeatable)\n"
		"  --workdir DIR            config.WorkingDir (an absolute path)\n"
		"  --expose PORT[/PROTO]    an exposed port, PROTO tcp (default), udp or sctp (repeatable)\n"
		"  --label KEY=VALUE        a label (repeatable)\n"
		"  --arch ARCH              the image's architecture (default amd64)\n"
		"  --source-date-epoch N    the mtime of every file and the image's creation time, in epoch\n"
		"                           seconds (default $SOURCE_DATE_EPOCH, else 0)\n"
		"  --keep-owner             keep the files' uid and gid (default: every file is 0:0)\n"
		"  --oci-layout DIR         also write the image into the OCI image layout DIR, named TAG\n"
		"                           (then REPOSITORY is optional: without it, nothing is pushed and\n"
		"                           the manifest digest is printed)\n"
		"  --create-repository      create the repository first (ECR CreateRepository) if missing\n"
		"  --endpoint URL           the gantry server (default $AWS_ENDPOINT_URL, "
		"else " DEFAULT_ENDPOINT ")\n"
		"  --region REGION          default $AWS_REGION, else $AWS_DEFAULT_REGION, "
		"else " DEFAULT_REGION "\n"
		"credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (the registry password comes from\n"
		"ECR GetAuthorizationToken)\n");
}

static void usage_all(FILE *f)
{
	fprintf(f, "usage: gantry image import [options] SOURCE [REPOSITORY[:TAG]]\n"
		   "run `gantry image import --help` for its options\n");
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* One import's state on the loop. */
struct imp {
	struct hcli *http;
	struct awsc *aws;
	struct regclient *reg;
	const char *endpoint;
	char *host; /* the endpoint's HOST:PORT: the registry's name in references */
	char *base; /* the endpoint's scheme://HOST:PORT */
	const char *repo, *tag;
	bool create;
	struct imgbuild_image *img;
	int pending;   /* blob pushes running */
	int existed;   /* blobs the registry had already */
	int rc;	       /* the exit status, once finished */
	char *digest;  /* the pushed manifest's */
	struct err *e; /* the first failure */
	bool finished;
};

/* Ends the import: releases the clients (the loop then runs out). */
static void finish(struct imp *m, struct err *e)
{
	if (m->finished) {
		err_free(e);
		return;
	}
	m->finished = true;
	m->e = e;
	m->rc = e ? 1 : 0;
	regclient_free(m->reg);
	m->reg = NULL;
	awsc_free(m->aws);
	m->aws = NULL;
	hcli_free(m->http);
	m->http = NULL;
}

static void on_manifest(void *arg, const struct regclient_result *r)
{
	struct imp *m = arg;
	struct err *e = NULL;
	if (r->err) {
		err_set(&e, r->err->kind, "push the manifest: %s", r->err->msg);
	} else {
		m->digest = xstrdup(r->digest);
	}
	finish(m, e);
}

static void on_blob(void *arg, const struct regclient_result *r)
{
	struct imp *m = arg;
	struct err *e = NULL;
	m->pending--;
	if (m->finished)
		return;
	if (r->err) {
		err_set(&e, r->err->kind, "push a blob: %s", r->err->msg);
		if (r->err->kind == ERR_REPO_NOT_FOUND)
			err_prefix(&e, "repository '%s' is missing (deleted meanwhile?)", m->repo);
		finish(m, e);
		return;
	}
	if (r->existed)
		m->existed++;
	if (m->pending > 0)
		return;
	const struct imgbuild_image *img = m->img;
	if (regclient_manifest_put(m->reg, m->repo, m->tag, img->manifest.media_type, img->manifest_json,
				   strlen(img->manifest_json), on_manifest, m, &e) < 0)
		finish(m, e);
}

static void on_token(void *arg, const struct awsc_result *r)
{
	struct imp *m = arg;
	struct err *e = NULL;
	char *raw = NULL;
	size_t n = 0;
	if (!r->out) {
		err_set(&e, ERR_ACCESS_DENIED, "GetAuthorizationToken at %s: %s%s%s", m->endpoint,
			r->error_type ? r->error_type : "", r->error_type ? ": " : "", r->message);
		finish(m, e);
		return;
	}
	json_t *ad = json_array_get(json_object_get(r->out, "authorizationData"), 0);
	const char *tok = json_string_value(json_object_get(ad, "authorizationToken"));
	raw = tok ? enc_b64_decode(tok, strlen(tok), &n) : NULL;
	char *colon = raw ? memchr(raw, ':', n) : NULL;
	if (!colon) {
		err_set(&e, ERR_CLIENT,
			"GetAuthorizationToken at %s: no base64 USER:PASSWORD token in the answer",
			m->endpoint);
		free(raw);
		finish(m, e);
		return;
	}
	*colon = '\0';
	m->reg = regclient_new(m->http, m->base, raw, colon + 1, &e);
	free(raw);
	if (!m->reg) {
		finish(m, e);
		return;
	}
	const struct imgbuild_blob *blobs[2] = {&m->img->layer, &m->img->config};
	for (int i = 0; i < 2; i++) {
		if (regclient_blob_push(m->reg, m->repo, blobs[i]->digest, blobs[i]->path, on_blob, m, &e) <
		    0) {
			finish(m, e);
			return;
		}
		m->pending++;
	}
}

static void get_token(struct imp *m)
{
	json_t *in = json_object();
	awsc_call(m->aws, ECR_TARGET "GetAuthorizationToken", "ecr", in, API_TIMEOUT_MS, on_token, m);
	json_decref(in);
}

static void on_repository(void *arg, const struct awsc_result *r)
{
	struct imp *m = arg;
	struct err *e = NULL;
	if (r->out ||
	    (m->create && r->error_type && strcmp(r->error_type, "RepositoryAlreadyExistsException") == 0)) {
		get_token(m);
		return;
	}
	if (r->error_type && strcmp(r->error_type, "RepositoryNotFoundException") == 0)
		err_set(&e, ERR_REPO_NOT_FOUND,
			"repository '%s' does not exist (%s); create it with `aws ecr create-repository "
			"--repository-name %s` or pass --create-repository",
			m->repo, r->message, m->repo);
	else
		err_set(&e, r->error_type ? ERR_CLIENT : ERR_UNAVAILABLE, "%s at %s: %s%s%s",
			m->create ? "CreateRepository" : "DescribeRepositories", m->endpoint,
			r->error_type ? r->error_type : "", r->error_type ? ": " : "", r->message);
	finish(m, e);
}

/* Pushes img as m->repo:m->tag. Returns the exit status; prints the reference or the error. */
static int push(struct imp *m, const char *region)
{
	struct err *e = NULL;
	uv_loop_t loop;
	const char *key = env_nonempty("AWS_ACCESS_KEY_ID"), *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	if (!key || !secret) {
		fprintf(stderr, "gantry image import: no credentials: set AWS_ACCESS_KEY_ID and "
				"AWS_SECRET_ACCESS_KEY\n");
		return 1;
	}
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "gantry image import: cannot start an event loop\n");
		return 1;
	}
	m->http = hcli_new(&loop);
	m->aws = awsc_new(m->http, m->endpoint, key, secret, region, &e);
	if (!m->aws) {
		finish(m, e);
	} else {
		json_t *in = m->create ? json_pack("{s:s}", "repositoryName", m->repo)
				       : json_pack("{s:[s]}", "repositoryNames", m->repo);
		awsc_call(m->aws,
			  m->create ? ECR_TARGET "CreateRepository" : ECR_TARGET "DescribeRepositories",
			  "ecr", in, API_TIMEOUT_MS, on_repository, m);
		json_decref(in);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0) {
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
	}
	if (m->e) {
		fprintf(stderr, "gantry image import: %s\n", m->e->msg);
		err_free(m->e);
		m->e = NULL;
		return 1;
	}
	fprintf(stderr, "gantry image import: pushed %s/%s:%s (%d of 2 blobs were there already)\n", m->host,
		m->repo, m->tag, m->existed);
	printf("%s/%s:%s@%s\n", m->host, m->repo, m->tag, m->digest);
	return 0;
}

/* Splits REPOSITORY[:TAG] (or HOST:PORT/REPOSITORY[:TAG] with the endpoint's HOST:PORT) into m. */
static int parse_target(struct imp *m, const char *s, char **repo, char **tag, struct err **err)
{
	const char *slash = strchr(s, '/');
	if (slash && (memchr(s, '.', (size_t)(slash - s)) || memchr(s, ':', (size_t)(slash - s)) ||
		      (slash - s == 9 && strncmp(s, "localhost", 9) == 0))) {
		struct reg_image_ref r = {0};
		if (reg_image_ref_parse(s, &r, err) < 0)
			return -1;
		if (r.digest || strcmp(r.registry, m->host) != 0) {
			err_set(err, ERR_INVALID_PARAM,
				r.digest ? "'%s': push by tag, not by digest"
					 : "'%s' names another registry than the endpoint's (%s)",
				s, m->host);
			reg_image_ref_release(&r);
			return -1;
		}
		*repo = r.repository;
		*tag = r.tag;
		r.repository = r.tag = NULL;
		reg_image_ref_release(&r);
		return 0;
	}
	const char *colon = strrchr(s, ':');
	if (colon && slash && colon < strrchr(s, '/'))
		colon = NULL;
	*repo = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
	*tag = xstrdup(colon ? colon + 1 : "latest");
	if (reg_name_check(*repo, err) < 0 || reg_tag_check(*tag, err) < 0) {
		free(*repo);
		free(*tag);
		*repo = *tag = NULL;
		return -1;
	}
	return 0;
}

/* Splits the endpoint URL into scheme://HOST:PORT and HOST:PORT. */
static int parse_endpoint(struct imp *m, struct err **err)
{
	const char *e = m->endpoint, *p = NULL;
	if (strncmp(e, "http://", 7) == 0)
		p = e + 7;
	else if (strncmp(e, "https://", 8) == 0)
		p = e + 8;
	size_t n = p ? strcspn(p, "/?#") : 0;
	if (!n)
		return err_set(err, ERR_INVALID_PARAM, "endpoint '%s' is not an http:// or https:// URL", e);
	m->host = xstrndup(p, n);
	m->base = xstrndup(e, (size_t)(p - e) + n);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int cmd_import(int argc, char **argv)
{
	struct imgbuild_opts o = {0};
	struct imp m = {0};
	struct err *e = NULL;
	const char **env = xcalloc((size_t)argc, sizeof(*env));
	const char **expose = xcalloc((size_t)argc, sizeof(*expose));
	const char **labels = xcalloc((size_t)argc, sizeof(*labels));
	char **cmd = NULL, **entrypoint = NULL, *repo = NULL, *tag = NULL;
	const char *layout = NULL, *region = NULL, *sde = env_nonempty("SOURCE_DATE_EPOCH"), *dir;
	char tmpdir[4096] = "";
	int rc = 2, c;
	size_t n;
	m.endpoint = env_nonempty("AWS_ENDPOINT_URL_ECR");
	if (!m.endpoint)
		m.endpoint = env_nonempty("AWS_ENDPOINT_URL");
	if (!m.endpoint)
		m.endpoint = DEFAULT_ENDPOINT;
	static const struct option longopts[] = {
		{"cmd", required_argument, NULL, 'c'},
		{"entrypoint", required_argument, NULL, 'E'},
		{"env", required_argument, NULL, 'e'},
		{"workdir", required_argument, NULL, 'w'},
		{"expose", required_argument, NULL, 'p'},
		{"label", required_argument, NULL, 'l'},
		{"arch", required_argument, NULL, 'a'},
		{"source-date-epoch", required_argument, NULL, 'S'},
		{"keep-owner", no_argument, NULL, 'K'},
		{"oci-layout", required_argument, NULL, 'o'},
		{"create-repository", no_argument, NULL, 'C'},
		{"endpoint", required_argument, NULL, 'u'},
		{"region", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 'E': {
			char **v = imgbuild_parse_argv(optarg, &n, &e);
			if (!v) {
				fprintf(stderr, "gantry image import: %s: %s\n",
					c == 'c' ? "--cmd" : "--entrypoint", e->msg);
				goto out;
			}
			char ***slot = c == 'c' ? &cmd : &entrypoint;
			imgbuild_argv_free(*slot);
			*slot = v;
			if (c == 'c') {
				o.cmd = (const char *const *)v;
				o.ncmd = n;
			} else {
				o.entrypoint = (const char *const *)v;
				o.nentrypoint = n;
			}
			break;
		}
		case 'e': env[o.nenv++] = optarg; break;
		case 'w': o.workdir = optarg; break;
		case 'p': expose[o.nexpose++] = optarg; break;
		case 'l': labels[o.nlabels++] = optarg; break;
		case 'a': o.arch = optarg; break;
		case 'S': sde = optarg; break;
		case 'K': o.keep_owner = true; break;
		case 'o': layout = optarg; break;
		case 'C': m.create = true; break;
		case 'u': m.endpoint = optarg; break;
		case 'r': region = optarg; break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (argc - optind != 2 && !(layout && argc - optind == 1)) {
		usage(stderr);
		goto out;
	}
	rc = 1;
	o.source = argv[optind];
	o.env = env;
	o.expose = expose;
	o.labels = labels;
	if (sde) {
		char *end;
		errno = 0;
		o.epoch = strtoll(sde, &end, 10);
		if (errno || end == sde || *end) {
			fprintf(stderr, "gantry image import: bad --source-date-epoch '%s'\n", sde);
			goto out;
		}
	}
	if (!region)
		region = env_nonempty("AWS_REGION");
	if (!region)
		region = env_nonempty("AWS_DEFAULT_REGION");
	if (!region)
		region = DEFAULT_REGION;
	m.repo = NULL;
	if (parse_endpoint(&m, &e) < 0)
		goto fail;
	if (argc - optind == 2) {
		if (parse_target(&m, argv[optind + 1], &repo, &tag, &e) < 0)
			goto fail;
		m.repo = repo;
		m.tag = tag;
	}
	dir = layout;
	if (!dir) {
		const char *t = env_nonempty("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/gantry-import.XXXXXX", t ? t : "/tmp");
		if (!mkdtemp(tmpdir)) {
			err_sys(&e, errno, "create a directory in %s", t ? t : "/tmp");
			tmpdir[0] = '\0';
			goto fail;
		}
		dir = tmpdir;
	}
	m.img = imgbuild_build(&o, dir, &e);
	if (!m.img)
		goto fail;
	if (layout && imgbuild_layout_add(layout, m.img, tag ? tag : "latest", &e) < 0)
		goto fail;
	fprintf(stderr, "gantry image import: built %s (%lu entries, layer %lld bytes)\n",
		m.img->manifest.digest, m.img->nentries, m.img->layer.size);
	if (!m.repo) {
		printf("%s\n", m.img->manifest.digest);
		rc = 0;
		goto out;
	}
	rc = push(&m, region);
	goto out;
fail:
	fprintf(stderr, "gantry image import: %s\n", e->msg);
	err_free(e);
	rc = 1;
out:
	if (tmpdir[0])
		nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	imgbuild_image_free(m.img);
	free(m.digest);
	free(m.host);
	free(m.base);
	free(repo);
	free(tag);
	imgbuild_argv_free(cmd);
	imgbuild_argv_free(entrypoint);
	free(env);
	free(expose);
	free(labels);
	return rc;
}

int cmd_image(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stderr);
		return 2;
	}
	if (strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "gantry image: unknown command '%s'\n", argv[1]);
	usage_all(stderr);
	return 2;
}
