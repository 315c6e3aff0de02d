import type { ProgressSnapshot } from './run.js';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** One line: sent, decided, held/rejected, current rate, elapsed. */
export function formatProgress(p: ProgressSnapshot): string {
  switch (p.phase) {
    case 'setup':
      return 'setting up the show…';
    case 'verify':
      return `checking the verdict through the API… (${secs(p.elapsedMs)})`;
    case 'done':
      return `done in ${secs(p.elapsedMs)}`;
    default: {
      const parts = [
        `${p.phase === 'releases' ? 'buyers done' : 'buyers'} ${p.finished}/${p.buyers}`,
        `sent ${p.sent}`,
        `accepted ${p.accepted}`,
        `decided ${p.decided} (held ${p.held}, rejected ${p.rejected})`,
        `${Math.round(p.rps)} req/s`,
        `polls ${p.polls}`,
      ];
      if (p.errors) parts.push(`errors ${p.errors}`);
      if (p.watching) parts.push(`${p.watching} holds to expire`);
      parts.push(secs(p.elapsedMs));
      return parts.join(' · ');
    }
  }
}

export interface ProgressLine {
  update(p: ProgressSnapshot): void;
  /** Clears the line so what follows starts clean. */
  done(): void;
}

/**
 * A live single-line progress on a terminal (rewritten in place, at most 10 times a second);
 * on anything else it writes nothing, so logs and pipes stay clean.
 */
export function createProgressLine(stream: NodeJS.WriteStream, enabled = stream.isTTY === true): ProgressLine {
  let lastAt = 0;
  let lastPhase = '';
  let shown = false;
  return {
    update(p) {
      if (!enabled) return;
      const now = Date.now();
      if (now - lastAt < 100 && p.phase === lastPhase) return;
      lastAt = now;
      lastPhase = p.phase;
      const columns = stream.columns || 120;
      stream.write(`\r\x1b[2K${formatProgress(p).slice(0, columns - 1)}`);
      shown = true;
    },
    done() {
      if (enabled && shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
