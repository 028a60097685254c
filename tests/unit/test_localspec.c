/* test_localspec.c — the local provider's deployment spec: ports and health
 * checks derived from a manifest (provision/local/deploy.c), --publish
 * overrides, TLS-terminating ports refused, and desired.json round trips
 * and rejections (provision/local/supervisor.c); state paths. */
#include "test.h"

#include <unistd.h>

#include "builder/base/util.h"
#include "provision/local/deploy.h"
#include "provision/local/state.h"
#include "provision/local/supervisor.h"

static struct i2k_service *svc(const char *yaml)
{
	struct i2k_service *m = NULL;
	OK(i2k_service_parse("s.yml", yaml, strlen(yaml), &m, &_e));
	return m;
}

TEST(ports_and_checks_from_manifest)
{
	struct i2k_service *m = svc("name: web\n"
				    "containers:\n"
				    "  web:\n"
				    "    image: x\n"
				    "    ports: [\"http:8080:http:80\", \"https:8443:https:443\"]\n"
				    "    healthcheck: {path: /up, interval: 2s, timeout: 300ms}\n"
				    "  db:\n"
				    "    image: y\n"
				    "    ports: [\"5432\"]\n"
				    "  idle:\n"
				    "    image: z\n");
	if (!m)
		return;
	struct i2k_local_spec s = {0};
	struct i2k_local_publish pub[] = {{.listen = 0, .port = 5432},
					  {.listen = 9000, .port = 8080}};
	OK(i2k_local_spec_ports(m, pub, 2, &s, &_e));
	CHECK_INT(s.nports, 3);
	CHECK(s.ports[0].guest == 80 && s.ports[0].listen == 9000 && s.ports[0].listen_forced);
	CHECK(s.ports[1].guest == 443 && s.ports[1].listen == 8443 && !s.ports[1].listen_forced);
	CHECK(s.ports[2].guest == 5432 && s.ports[2].listen == 0 && !s.ports[2].listen_forced);
	CHECK_INT(s.nchecks, 2);
	CHECK_INT(s.checks[0].guest, 80); /* web: HTTP on its first port */
	CHECK_STR(s.checks[0].path, "/up");
	CHECK_INT(s.checks[0].interval_ms, 2000);
	CHECK_INT(s.checks[0].timeout_ms, 300);
	CHECK_INT(s.checks[1].guest, 5432); /* db: TCP */
	CHECK(s.checks[1].path == NULL);
	CHECK_INT(s.checks[1].interval_ms, I2K_HEALTH_DEFAULT_INTERVAL_MS);
	i2k_local_spec_clear(&s);
	struct i2k_local_publish bad[] = {{.listen = 1, .port = 81}};
	FAILS(i2k_local_spec_ports(m, bad, 1, &s, &_e), I2K_ERR_USAGE,
	      "--publish 1:81: the service declares no port 81");
	i2k_local_spec_clear(&s);
	i2k_service_free(m);
	m = svc(
	    "name: web\ncontainers:\n  web:\n    image: x\n    ports: [\"https:443:http:80\"]\n");
	if (m)
		FAILS(i2k_local_spec_ports(m, NULL, 0, &s, &_e), I2K_ERR_UNSUPPORTED,
		      "s.yml: containers.web: port https:443:http:80 needs TLS termination, which "
		      "the local provider does not do");
	i2k_local_spec_clear(&s);
	i2k_service_free(m);
}

TEST(spec_round_trip)
{
	struct i2k_local_check checks[] = {
	    {.guest = 80, .path = "/", .interval_ms = 1000, .timeout_ms = 500},
	    {.guest = 22, .interval_ms = 5000, .timeout_ms = 2000}};
	struct i2k_local_port ports[] = {{.guest = 80, .listen = 8080, .listen_forced = true},
					 {.guest = 22, .listen = 0}};
	struct i2k_local_spec s = {.service = "web",
				   .image = "/st/web/images/abc/web",
				   .hash = "0123456789abcdef",
				   .accel = "tcg",
				   .replicas = 3,
				   .mem_mb = 256,
				   .cpus = 2,
				   .ports = ports,
				   .nports = 2,
				   .checks = checks,
				   .nchecks = 2};
	char *text = i2k_local_spec_dump(&s);
	char path[] = "/tmp/i2k-spec-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct i2k_local_spec b;
	OK(i2k_local_spec_load(path, &b, &_e));
	CHECK_STR(b.service, "web");
	CHECK_STR(b.image, s.image);
	CHECK_STR(b.hash, s.hash);
	CHECK_STR(b.accel, "tcg");
	CHECK(b.data_disk == NULL);
	CHECK(b.replicas == 3 && b.mem_mb == 256 && b.cpus == 2);
	CHECK_INT(b.nports, 2);
	CHECK(b.ports[0].guest == 80 && b.ports[0].listen == 8080 && b.ports[0].listen_forced);
	CHECK(b.ports[1].guest == 22 && b.ports[1].listen == 0 && !b.ports[1].listen_forced);
	CHECK_INT(b.nchecks, 2);
	CHECK_STR(b.checks[0].path, "/");
	CHECK(b.checks[1].path == NULL && b.checks[1].interval_ms == 5000);
	char *again = i2k_local_spec_dump(&b);
	CHECK_STR(again, text);
	free(again);
	i2k_local_spec_clear(&b);
	/* malformed: a port out of range, replicas 0, not JSON */
	static const char *const bad[] = {
	    "{\"service\":\"w\",\"image\":\"i\",\"hash\":\"h\",\"accel\":\"tcg\",\"replicas\":1,"
	    "\"mem_mb\":64,\"cpus\":1,\"ports\":[{\"guest\":70000,\"listen\":1}],\"checks\":[]}",
	    "{\"service\":\"w\",\"image\":\"i\",\"hash\":\"h\",\"accel\":\"tcg\",\"replicas\":0,"
	    "\"mem_mb\":64,\"cpus\":1,\"ports\":[],\"checks\":[]}",
	    "not json"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		struct i2k_error *e = NULL;
		CHECK(i2k_local_spec_load(path, &b, &e) < 0);
		CHECK(e && e->code == I2K_ERR_CONFIG);
		i2k_error_free(e);
	}
	unlink(path);
	free(text);
}

TEST(state_paths)
{
	char *p = NULL;
	setenv("XDG_STATE_HOME", "/xdg", 1);
	OK(i2k_local_service_dir("web", &p, &_e));
	CHECK_STR(p, "/xdg/i2kit/local/web");
	free(p);
	p = NULL;
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/u", 1);
	OK(i2k_local_root(&p, &_e));
	CHECK_STR(p, "/home/u/.local/state/i2kit/local");
	free(p);
	p = NULL;
	FAILS(i2k_local_service_dir("../x", &p, &_e), I2K_ERR_USAGE,
	      "invalid service name \"../x\"");
	/* no supervisor in a directory without a pid file */
	CHECK_INT(i2k_local_supervisor_pid("/nonexistent"), 0);
	CHECK(i2k_local_free_port() != 0);
}

int main(void)
{
	t_prog = "test_localspec";
	RUN(ports_and_checks_from_manifest);
	RUN(spec_round_trip);
	RUN(state_paths);
	return TEST_DONE();
}
