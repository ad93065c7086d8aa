"""Reports: the rich terminal summary, the self-contained HTML tearsheet and its PNG figures."""
