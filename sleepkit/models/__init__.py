"""Model architectures (Keras builders registered in ``ModelFactory``; TensorFlow imported lazily)."""
