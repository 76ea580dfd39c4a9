// A tc classifier (SEC("tc")) that checks and rewrites the first byte of the frame in place.
// prog: sched_cls
// expect: accept
#include "common.h"

SEC("tc")
int tc_rewrite(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *p = data;

	if ((void *)(p + 1) > data_end)
		return 0;
	*p ^= 1;
	return 0;
}
