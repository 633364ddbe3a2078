"""What police IT uses to support an installation: self-test, logs and the support bundle."""
