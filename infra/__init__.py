"""The CDK app that deploys storyimages: one construct per capability, the stack composes them."""
