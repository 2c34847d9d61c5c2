/** The shapes the console's JSON endpoints answer with, from the server's own definitions. */
export type {
  AuditEntry as AuditEvent,
  FindingShape as Finding,
  InstanceShape as Instance,
  MetricsShape as MetricsSnapshot,
  ModuleDetail,
  ModuleView,
  PackPreviewShape as PackPreview,
  SignatureState as Signature,
} from '../../console-shapes';
