import { startTemporalAndBundle } from '../../support/global-setup';

/** The workflow specs need Temporal only: no database, no broker. */
export default startTemporalAndBundle;
