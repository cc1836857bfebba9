/* The services' clients (testsuite/lib/kv.c) and the harness's checker
 * (service_check.c) against scripted servers: what each protocol sends, how
 * replies are read, refusals of malformed or hostile replies, and a checker
 * that must notice a lost write, a changed value, a new connection. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/kv.h"
#include "../runner/service_check.h"
#include "unit.h"

/* A client on one end of a socketpair; the test plays the server. */
static struct kv_conn c;
static int server = -1;

static void pair(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(&c, 0, sizeof(c));
	c.fd = sv[0];
	c.timeout_ms = 2000;
	server = sv[1];
}

static void unpair(void)
{
	kv_close(&c);
	close(server);
}

static void reply(const char *s)
{
	ck_assert_int_eq(write(server, s, strlen(s)), (ssize_t)strlen(s));
}

/* What the client sent so far. */
static const char *sent(void)
{
	static char buf[8192];
	ssize_t n = recv(server, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

START_TEST(test_redis_protocol)
{
	const struct kv_service *r = kv_service("redis");
	char val[64], d[128];

	ck_assert_ptr_nonnull(r);
	reply("+OK\r\n");
	ck_assert_int_eq(r->set(&c, "k1", "v 1"), 0);
	ck_assert_str_eq(sent(), "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$3\r\nv 1\r\n");
	reply("$3\r\nv 1\r\n");
	ck_assert_int_eq(r->get(&c, "k1", val, sizeof(val)), 0);
	ck_assert_str_eq(val, "v 1");
	reply("$-1\r\n");
	ck_assert_int_eq(r->get(&c, "nope", val, sizeof(val)), 1);
	reply(":42\r\n");
	ck_assert_int_eq(r->conn_id(&c), 42);
	reply("+0123456789abcdef0123456789abcdef01234567\r\n");
	ck_assert_int_eq(r->digest(&c, d, sizeof(d)), 0);
	ck_assert_str_eq(d, "digest=0123456789abcdef0123456789abcdef01234567");
	reply("+PONG\r\n");
	ck_assert_int_eq(r->ping(&c), 0);
	/* an error reply, a wrong type, a lying length, a value without CRLF, garbage */
	reply("-ERR wrong\r\n");
	ck_assert_int_eq(r->set(&c, "k", "v"), -1);
	ck_assert_ptr_nonnull(strstr(c.err, "-ERR wrong"));
	reply(":1\r\n");
	ck_assert_int_eq(r->get(&c, "k", val, sizeof(val)), -1);
	reply("$999999\r\n");
	ck_assert_int_eq(r->get(&c, "k", val, sizeof(val)), -1);
	unpair();
	pair();
	reply("$3\r\nabcXY");
	ck_assert_int_eq(r->get(&c, "k", val, sizeof(val)), -1);
	ck_assert_ptr_nonnull(strstr(c.err, "CRLF"));
	unpair();
	pair();
	reply("+not-a-digest\r\n");
	ck_assert_int_eq(r->digest(&c, d, sizeof(d)), -1);
	/* keys that are not plain words never reach the wire */
	(void)sent();
	ck_assert_int_eq(r->set(&c, "a b", "v"), -1);
	ck_assert_int_eq(r->set(&c, "", "v"), -1);
	ck_assert_str_eq(sent(), "");
}
END_TEST

START_TEST(test_memcached_protocol)
{
	const struct kv_service *m = kv_service("memcached");
	char val[64], d[128];

	reply("STORED\r\n");
	ck_assert_int_eq(m->set(&c, "k1", "hello"), 0);
	ck_assert_str_eq(sent(), "set k1 0 0 5\r\nhello\r\n");
	reply("VALUE k1 0 5\r\nhello\r\nEND\r\n");
	ck_assert_int_eq(m->get(&c, "k1", val, sizeof(val)), 0);
	ck_assert_str_eq(val, "hello");
	reply("END\r\n");
	ck_assert_int_eq(m->get(&c, "k2", val, sizeof(val)), 1);
	reply("STAT pid 1\r\nSTAT curr_items 1234\r\nSTAT x y\r\nEND\r\n");
	ck_assert_int_eq(m->digest(&c, d, sizeof(d)), 0);
	ck_assert_str_eq(d, "curr_items=1234");
	ck_assert_int_eq(m->conn_id(&c), -1);
	reply("VERSION 1.6.18\r\n");
	ck_assert_int_eq(m->ping(&c), 0);
	reply("NOT_STORED\r\n");
	ck_assert_int_eq(m->set(&c, "k", "v"), -1);
	reply("VALUE other 0 5\r\nhello\r\nEND\r\n"); /* the value of another key */
	ck_assert_int_eq(m->get(&c, "k1", val, sizeof(val)), -1);
}
END_TEST

START_TEST(test_lines_bounded)
{
	char line[16];
	char big[70000];

	reply("short\r\n");
	ck_assert_int_eq(kv_read_line(&c, line, sizeof(line)), 0);
	ck_assert_str_eq(line, "short");
	reply("0123456789abcdefXYZ\r\n");
	ck_assert_int_eq(kv_read_line(&c, line, sizeof(line)), -1);
	unpair();
	pair();
	/* a server that never ends its line cannot make the client buffer forever */
	memset(big, 'x', sizeof(big));
	ck_assert_int_gt(send(server, big, 60000, MSG_DONTWAIT), 0);
	ck_assert_int_eq(kv_read_line(&c, line, sizeof(line)), -1);
	unpair();
	pair();
	c.timeout_ms = 100; /* silence: a deadline, not a hang */
	ck_assert_int_eq(kv_read_line(&c, line, sizeof(line)), -1);
	ck_assert_ptr_nonnull(strstr(c.err, "no reply within"));
	close(server);
	server = -1;
	ck_assert_int_eq(kv_read_line(&c, line, sizeof(line)), -1);
	ck_assert_ptr_nonnull(strstr(c.err, "closed"));
}
END_TEST

/* ---- the checker against a tiny in-memory redis ------------------------- */

struct fake_redis {
	int listen_fd, port;
	pthread_t thread;
	char keys[4096][16];
	char vals[4096][96];
	int n;
	int drop_key;          /* index of a key that vanishes after the checker's load, -1 for none */
	int tamper_key;        /* index whose value changes, -1 for none */
	long long client_id;   /* CLIENT ID answers this the first time, then client_id_after */
	long long client_id_after;
	int id_calls;
};

static int find(struct fake_redis *f, const char *k)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->keys[i], k))
			return i;
	return -1;
}

static void *serve_redis(void *arg)
{
	struct fake_redis *f = arg;
	struct kv_conn s = { .timeout_ms = 5000 };
	char line[256], args[4][128];

	s.fd = accept(f->listen_fd, NULL, NULL);
	for (;;) {
		int argc, n;
		char out[256];

		if (kv_read_line(&s, line, sizeof(line)) < 0 || sscanf(line, "*%d", &argc) != 1 || argc < 1 || argc > 4)
			break;
		for (int i = 0; i < argc; i++) {
			if (kv_read_line(&s, line, sizeof(line)) < 0 || sscanf(line, "$%d", &n) != 1 || n < 0 || n > 120 ||
			    kv_read_block(&s, args[i], (size_t)n) < 0)
				goto out;
			args[i][n] = '\0';
		}
		if (!strcmp(args[0], "SET")) {
			int i = find(f, args[1]);

			if (i < 0 && f->n < 4096)
				i = f->n++;
			snprintf(f->keys[i], sizeof(f->keys[i]), "%s", args[1]);
			snprintf(f->vals[i], sizeof(f->vals[i]), "%s", args[2]);
			snprintf(out, sizeof(out), "+OK\r\n");
		} else if (!strcmp(args[0], "GET")) {
			int i = find(f, args[1]);

			if (i < 0 || i == f->drop_key)
				snprintf(out, sizeof(out), "$-1\r\n");
			else if (i == f->tamper_key)
				snprintf(out, sizeof(out), "$%zu\r\nX%s\r\n", strlen(f->vals[i]) + 1, f->vals[i]);
			else
				snprintf(out, sizeof(out), "$%zu\r\n%s\r\n", strlen(f->vals[i]), f->vals[i]);
		} else if (!strcmp(args[0], "DEL")) {
			int i = find(f, args[1]);

			if (i >= 0)
				f->keys[i][0] = '\0';
			snprintf(out, sizeof(out), ":%d\r\n", i >= 0);
		} else if (!strcmp(args[0], "DEBUG")) {
			/* the digest of the k* keys: the same before and after unless one was dropped */
			unsigned h = 0;

			for (int i = 0; i < f->n; i++)
				if (f->keys[i][0] == 'k' && i != f->drop_key)
					h = h * 31 + (unsigned)f->vals[i][0] + (unsigned)i;
			snprintf(out, sizeof(out), "+%040x\r\n", h);
		} else if (!strcmp(args[0], "CLIENT")) {
			snprintf(out, sizeof(out), ":%lld\r\n", f->id_calls++ ? f->client_id_after : f->client_id);
		} else {
			snprintf(out, sizeof(out), "-ERR unknown\r\n");
		}
		if (kv_send(&s, out, strlen(out)) < 0)
			break;
	}
out:
	kv_close(&s);
	return NULL;
}

static void fake_start(struct fake_redis *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->listen_fd, 1), 0);
	ck_assert_int_eq(getsockname(f->listen_fd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, serve_redis, f), 0);
}

static int run_checker(struct fake_redis *f, char *why, size_t len)
{
	struct svc_check k;
	int r;

	fake_start(f);
	ck_assert_msg(svc_check_start(&k, "redis", "127.0.0.1", f->port, 50, why, len) == 0, "%s", why);
	usleep(150 * 1000); /* a few writes */
	r = svc_check_finish(&k, why, len);
	svc_check_stop(&k);
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	return r;
}

START_TEST(test_checker)
{
	static struct fake_redis f;
	char why[512];

	f = (struct fake_redis){ .drop_key = -1, .tamper_key = -1, .client_id = 7, .client_id_after = 7 };
	ck_assert_msg(run_checker(&f, why, sizeof(why)) == 0, "%s", why);
	ck_assert_ptr_nonnull(strstr(why, "50 keys and"));
	ck_assert_ptr_nonnull(strstr(why, "client id unchanged"));
	/* a loaded key lost */
	f = (struct fake_redis){ .drop_key = 10, .tamper_key = -1, .client_id = 7, .client_id_after = 7 };
	ck_assert_int_eq(run_checker(&f, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "k0000010 is gone"));
	/* an acknowledged write changed (index 50: the first write after the 50 loaded keys) */
	f = (struct fake_redis){ .drop_key = -1, .tamper_key = 50, .client_id = 7, .client_id_after = 7 };
	ck_assert_int_eq(run_checker(&f, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "an acknowledged write is lost"));
	ck_assert_ptr_nonnull(strstr(why, "w0000000 reads"));
	/* the server sees another connection */
	f = (struct fake_redis){ .drop_key = -1, .tamper_key = -1, .client_id = 7, .client_id_after = 8 };
	ck_assert_int_eq(run_checker(&f, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "not the same one"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kv");
	TCase *tc = tcase_create("protocols"), *ck = tcase_create("checker");

	tcase_add_checked_fixture(tc, pair, unpair);
	tcase_add_test(tc, test_redis_protocol);
	tcase_add_test(tc, test_memcached_protocol);
	tcase_add_test(tc, test_lines_bounded);
	suite_add_tcase(s, tc);
	tcase_set_timeout(ck, 30);
	tcase_add_test(ck, test_checker);
	suite_add_tcase(s, ck);
	return unit_run(s) ? 1 : 0;
}
