import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/tools';

const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const composeAvailable = compose.status === 0;
if (!composeAvailable) {
  // The bootstrap installs Debian's docker-compose where it can; without it this check cannot run.
  console.warn('skipping the docker-compose.yml check: docker-compose is not installed');
}

(composeAvailable ? describe : describe.skip)('docker-compose.yml', () => {
  const file = path.join(REPO_ROOT, 'docker-compose.yml');

  it('is a valid compose file', () => {
    expect(() => execFileSync('docker-compose', ['-f', file, 'config', '-q'], { stdio: 'pipe' })).not.toThrow();
  });

  it('runs MongoDB 7 as a replica set, RabbitMQ with management, Temporal with its UI, and the wallet', () => {
    const config = execFileSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8' });
    expect(config).toMatch(/image: mongo:7/);
    expect(config).toMatch(/--replSet/);
    expect(config).toMatch(/image: rabbitmq:3-management/);
    expect(config).toMatch(/image: temporalio\/auto-setup/);
    expect(config).toMatch(/image: temporalio\/ui/);
    expect(config).toMatch(/DATABASE_URL: mongodb:\/\/mongo:27017\/mint_wallet\?replicaSet=rs0/);
  });

  it('provisions Prometheus with the wallet scrape and alerting rules, and Grafana with the wallet dashboard', () => {
    const config = execFileSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8' });
    expect(config).toMatch(/image: prom\/prometheus:/);
    expect(config).toMatch(/image: grafana\/grafana:/);
    const mounted = [...config.matchAll(/^ {4}- (\/[^:\n]+):\/etc\/(?:prometheus|grafana)\//gm)].map((match) =>
      path.relative(REPO_ROOT, match[1]),
    );
    expect(mounted.sort()).toEqual([
      'observability/grafana/provisioning',
      'observability/prometheus/prometheus.yml',
      'observability/prometheus/wallet-alerts.yml',
    ]);
    for (const source of mounted) expect(existsSync(path.join(REPO_ROOT, source))).toBe(true);
  });
});
