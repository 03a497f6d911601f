import cliProgress from 'cli-progress';

/**
 * A progress bar on a terminal; plain log lines every `every` updates elsewhere (CI logs, pipes),
 * so long jobs show they are alive either way.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  constructor(private readonly label: string, private readonly total: number, start = 0, private readonly everyMs = 10_000) {
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar({
        stream: process.stderr,
        format: `${label} [{bar}] {value}/{total} | {info} | ETA {eta_formatted}`,
        etaBuffer: 50,
        hideCursor: true,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(total, start, { info: '' });
    }
  }

  update(value: number, info: string): void {
    if (this.bar) this.bar.update(value, { info });
    else if (performance.now() - this.lastLine > this.everyMs || value === this.total) {
      this.lastLine = performance.now();
      process.stderr.write(`${this.label} ${value}/${this.total} ${info}\n`);
    }
  }

  stop(): void { this.bar?.stop(); }
}
