"""What a test calls: the assertions, ``assert_quality``, and the one workflow behind them
(record -> baseline -> evidence -> verdict -> message), with the session's run state."""
