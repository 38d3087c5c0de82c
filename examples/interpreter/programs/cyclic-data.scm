;; cyclic-data: display, write and equal? on data that contains itself (made with set-car!,
;; set-cdr! and vector-set!). The printer prints "..." where a value is one of the pairs, vectors
;; or errors it is printed inside (printing it again would never end), and a list whose cdr chain
;; comes back prints each element once and then " . ...". equal? compares such data in time linear
;; in its size and gives the right answer. (Both used to recurse without end: a pair whose car is
;; itself overflowed the C stack, and a circular list made display loop forever.)
(define (say . items) (for-each display items) (newline))

(define p (list 1))
(set-car! p p)
(say "a pair whose car is itself: " p)
(write p)
(newline)

(define c (list 1 2 3))
(set-cdr! (cddr c) c)
(say "a circular list: " c)
(say "a list running into a cycle: " (cons 0 c))
(write (list "a" c "b"))
(newline)

(define q (list 'a 'b 'c))
(set-car! (cdr q) q)
(say "a list holding itself: " q)

;; m = (x . n) and n = (m): the cycle runs through a car and a cdr.
(define m (list 'x))
(define n (list m))
(set-cdr! m n)
(say "a cycle through car and cdr: " m)

(define v (make-vector 3 0))
(vector-set! v 1 v)
(say "a vector holding itself: " v)
(define w (vector 'w (list 1 2)))
(set-cdr! (cdr (vector-ref w 1)) (list w))
(say "a vector inside its own element: " w)

(define e (guard (x (#t x)) (error "boom" 1 2)))
(set-car! (error-object-irritants e) e)
(say "an error among its own irritants: " e)

(define c2 (list 1 2 3))
(set-cdr! (cddr c2) c2)
(define c3 (list 1 2 4))
(set-cdr! (cddr c3) c3)
(define p2 (list 1))
(set-car! p2 p2)
(define v2 (make-vector 3 0))
(vector-set! v2 1 v2)
(say "equal? two circular lists alike: " (equal? c c2))
(say "equal? two circular lists that differ: " (equal? c c3))
(say "equal? a circular list and one unrolled once more: " (equal? c (cons 1 (cons 2 (cons 3 c2)))))
(say "equal? two pairs that are their own car: " (equal? p p2))
(say "equal? a pair that is its own car and a list of it: " (equal? p (list p2)))
(say "equal? a pair that is its own car and a plain list: " (equal? p (list (list 1))))
(say "equal? two vectors holding themselves: " (equal? v v2))
(say "member with a circular list: " (if (member c2 (list 1 c)) #t #f))
(say "heap consistent: " (heap-verify))
