"""Campaign analytics (洞察分析): rollups kept by the audit writer in the transaction of the events
they count, reports read from the rollups only, and the statistics of A/B experiments."""
