"""RabbitMQ adapters: the contract encoder, the broker, the event publisher."""
