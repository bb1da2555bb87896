/** ModelShip's customer managed KMS keys: rotated yearly, and only AWS services may create grants on them. */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * A key whose policy denies kms:CreateGrant unless an AWS service asks for a grant on a resource it
 * manages for the caller (SageMaker for an endpoint's volume, say): a principal allowed to use the
 * key cannot hand that use on through a grant (Control Tower CT.KMS.PR.3).
 */
export function createKey(scope: Construct, id: string, props: kms.KeyProps): kms.Key {
  const key = new kms.Key(scope, id, { enableKeyRotation: true, ...props });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'GrantsOnlyForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
  return key;
}
