/*
 * start.c - placeholder of libgt-pthread.so until its parts land: the
 * library must have one object of its own to link.
 */
#include "internal.h"

int gt__pthread_placeholder;
