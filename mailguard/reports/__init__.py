"""Spam reports by forwarding (Decree 91/2020 Art. 10): the abuse addresses mailguard takes mail
for itself — intake of every forward shape, who may report, learning, repeat sources and the
local block list, refusals of advertisers, acknowledgements, and ARF reports onward."""
