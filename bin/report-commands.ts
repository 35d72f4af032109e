/**
 * `ipo report`: the static report site (lib/report/site.ts) from the recorded runs and the saved figures.
 */
import type { Command } from 'commander';
import { jsonOption, logLine, print } from './cli-common.ts';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('build one offline HTML site from the report records (reports/results/*.json) and figures, beside the paper\'s numbers')
    .option('--out <dir>', 'site folder (index.html, figures/); default reports/site')
    .option('--records <dir>', 'report records; default reports/results')
    .option('--figures <dir>', 'PNG figures to include; default reports/figures')
    .addOption(jsonOption())
    .action(async (o: { out?: string; records?: string; figures?: string; json?: boolean }) => {
      const { buildReportSite, NO_RECORDS_HINT } = await import('../lib/report/site.ts');
      const { displayPath } = await import('../lib/util/paths.ts');
      const r = buildReportSite({ outDir: o.out, recordsDir: o.records, figuresDir: o.figures });
      // skipped files go to stderr too, so a corrupt record is never silently missing from the site
      for (const s of r.skipped) logLine(`skipped record ${s.file}: ${s.reason}`);
      print(o, { index: displayPath(r.index), outDir: displayPath(r.outDir), records: r.records, figures: r.figures, skipped: r.skipped },
        () => r.records === 0
          ? `${NO_RECORDS_HINT} (wrote an empty site to ${displayPath(r.index)})`
          : `wrote ${displayPath(r.index)}: ${r.records} record${r.records === 1 ? '' : 's'}, ${r.figures} figure${r.figures === 1 ? '' : 's'}${r.skipped.length ? `, ${r.skipped.length} record file${r.skipped.length === 1 ? '' : 's'} skipped` : ''}`);
    });
}
