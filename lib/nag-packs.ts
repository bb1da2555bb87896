/**
 * The SageMaker hosting rules of cdk-nag's compliance packs (HIPAA, NIST, PCI), applied alone: the
 * AwsSolutions pack checks notebooks only, and the compliance packs bring many rules beside these.
 */
import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, rules, type NagPackProps } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export class ModelShipSageMakerChecks extends NagPack {
  readonly name = 'ModelShipSageMaker';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'ModelShipSageMaker';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      info: 'The SageMaker endpoint configuration does not set a KMS key for its storage.',
      explanation: 'A customer managed key lets you control and audit access to the data on the endpoint volume.',
      level: NagMessageLevel.ERROR,
      rule: rules.sagemaker.SageMakerEndpointConfigurationKMSKeyConfigured,
      node,
    });
  }
}
